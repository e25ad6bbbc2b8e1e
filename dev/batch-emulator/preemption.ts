/**
 * Random preemption of low-priority nodes: with a rate of r preemptions per node-hour, each
 * low-priority node that comes into service draws its preemption time from an exponential
 * distribution (mean 1/r hours) of a seeded generator, so a run is repeatable. Changing the policy
 * bumps its version, which voids the draws made under the old one.
 */
import { seededRandom } from './faults.js';

export interface PreemptionConfig {
  /** Expected preemptions per low-priority node and simulated hour; 0 = none. */
  ratePerNodeHour: number;
  seed?: number;
  /** Simulated seconds until a preempted node comes back; null = never; absent = allocation time. */
  recoverAfterSeconds?: number | null;
}

export class PreemptionPolicy {
  version = 0;
  private config: PreemptionConfig = { ratePerNodeHour: 0 };
  private random: () => number = seededRandom(1);

  set(config: PreemptionConfig): void {
    this.version++;
    this.config = config;
    this.random = seededRandom(config.seed ?? 1);
  }

  describe(): PreemptionConfig {
    return this.config;
  }

  /** Simulated ms until the next preemption of a node now in service, or undefined when off. */
  nextDelayMs(): number | undefined {
    const rate = this.config.ratePerNodeHour;
    if (rate <= 0) return undefined;
    const hours = -Math.log(1 - this.random()) / rate;
    return Math.max(1, Math.round(hours * 3_600_000));
  }

  /** How long a randomly preempted node stays away (undefined = until a resize removes it). */
  recoverAfterSeconds(allocationSeconds: number): number | undefined {
    const r = this.config.recoverAfterSeconds;
    if (r === null) return undefined;
    return r ?? allocationSeconds;
  }
}
