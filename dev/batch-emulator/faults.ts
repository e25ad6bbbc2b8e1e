/**
 * Fault injection for the REST surface: each matching request draws a number from a seeded
 * generator and falls into consecutive bands of [0, 1): drop (socket destroyed without an answer),
 * 429, 503, 500, 403 (`AuthenticationFailed`, as when a key is rotated or a role assignment has not
 * propagated yet), else served normally. `count` bounds how many faults are injected in total, so
 * `{ rate503: 1, count: 2 }` fails exactly the next two requests.
 */
import { z } from 'zod';

export const faultConfigSchema = z.object({
  rate429: z.number().min(0).max(1).default(0),
  retryAfterSeconds: z.number().int().min(0).default(1),
  rate503: z.number().min(0).max(1).default(0),
  rate500: z.number().min(0).max(1).default(0),
  rateDrop: z.number().min(0).max(1).default(0),
  rate403: z.number().min(0).max(1).default(0),
  latencyMs: z.number().int().min(0).max(60_000).default(0),
  pathPrefix: z.string().optional(),
  count: z.number().int().min(0).optional(),
  seed: z.number().int().default(1),
});
export type FaultConfig = z.infer<typeof faultConfigSchema>;
export type FaultKind = 'drop' | 429 | 503 | 500 | 403;

/** xorshift32: a small deterministic generator in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

export class FaultInjector {
  private config: FaultConfig | undefined;
  private random: () => number = Math.random;
  private remaining: number | undefined;

  set(config: FaultConfig): void {
    this.config = config;
    this.random = seededRandom(config.seed);
    this.remaining = config.count;
  }

  clear(): void {
    this.config = undefined;
    this.remaining = undefined;
  }

  describe(): (FaultConfig & { remaining?: number }) | null {
    return this.config
      ? { ...this.config, ...(this.remaining !== undefined ? { remaining: this.remaining } : {}) }
      : null;
  }

  private applies(path: string): boolean {
    const c = this.config;
    if (!c || (this.remaining !== undefined && this.remaining <= 0)) return false;
    return !c.pathPrefix || path.toLowerCase().startsWith(c.pathPrefix.toLowerCase());
  }

  latencyFor(path: string): number {
    return this.applies(path) ? (this.config?.latencyMs ?? 0) : 0;
  }

  get retryAfterSeconds(): number {
    return this.config?.retryAfterSeconds ?? 1;
  }

  /** The fault to inject for this request, if any (consumes one of `count`). */
  draw(path: string): FaultKind | undefined {
    const c = this.config;
    if (!c || !this.applies(path)) return undefined;
    const roll = this.random();
    const bands: [FaultKind, number][] = [
      ['drop', c.rateDrop],
      [429, c.rate429],
      [503, c.rate503],
      [500, c.rate500],
      [403, c.rate403],
    ];
    let edge = 0;
    for (const [kind, rate] of bands) {
      edge += rate;
      if (roll < edge) {
        if (this.remaining !== undefined) this.remaining--;
        return kind;
      }
    }
    return undefined;
  }
}
