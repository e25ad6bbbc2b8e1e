/**
 * Shared access signatures must never reach a log, a stored error, an event or an answer: whoever
 * reads one can use it until it expires. Text that may quote a URL (a failing service's message, a
 * transport error) goes through `redactSas` before it is kept anywhere.
 */

/** `sig=` is the signature itself; the user delegation key's fields (`skoid`, `sktid`) name the identity. */
const secretParams = /(^|[?&;\s"'])((?:sig|skoid|sktid|skt|ske|sks|skv|saoid|suoid|scid)=)[^&\s"'<>]*/gi;

/** `text` with every SAS signature (and delegation key field) replaced by `REDACTED`. */
export function redactSas(text: string): string {
  return text.replace(secretParams, '$1$2REDACTED');
}

/** Whether `text` still holds a SAS signature (`sig=` followed by a value other than REDACTED). */
export function containsSas(text: string): boolean {
  return /(?:^|[?&;\s"'])sig=(?!REDACTED)[^&\s"'<>]/i.test(text);
}
