/** Argument parsers and options more than one `slotwise` command takes. */
import { InvalidArgumentError, Option } from 'commander';

export function positiveNumber(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`'${text}' is not a positive number`);
  return n;
}

export function positiveInteger(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`'${text}' is not a positive integer`);
  return n;
}

export const intervalOption = () =>
  new Option('--interval <seconds>', 'seconds between polls').default(1).argParser(positiveNumber);
