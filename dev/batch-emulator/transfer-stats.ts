/**
 * Counts of the bytes and files the simulated nodes moved, served at `GET /_emulator/transfers`, so a
 * test can assert that shared input was fetched once per node and not once per task.
 */

export interface Moved {
  downloadedBytes: number;
  downloadedFiles: number;
  uploadedBytes: number;
  uploadedFiles: number;
}

export interface NodeMoved extends Moved {
  /** Job preparation runs started on the node (retries included). */
  prepRuns: number;
  releaseRuns: number;
}

export type RunKind = 'task' | 'prep' | 'release';

const moved = (): Moved => ({ downloadedBytes: 0, downloadedFiles: 0, uploadedBytes: 0, uploadedFiles: 0 });

export class TransferStats {
  private totals = moved();
  private nodes = new Map<string, NodeMoved>();
  /** By `<jobId>/<taskId>` for tasks, `<jobId>/<prepId>@<nodeId>` for preparation and release runs. */
  private runs = new Map<string, Moved>();

  private node(nodeId: string): NodeMoved {
    let n = this.nodes.get(nodeId);
    if (!n) {
      n = { ...moved(), prepRuns: 0, releaseRuns: 0 };
      this.nodes.set(nodeId, n);
    }
    return n;
  }

  private run(key: string): Moved {
    let r = this.runs.get(key);
    if (!r) {
      r = moved();
      this.runs.set(key, r);
    }
    return r;
  }

  started(nodeId: string, kind: RunKind): void {
    if (kind === 'prep') this.node(nodeId).prepRuns++;
    else if (kind === 'release') this.node(nodeId).releaseRuns++;
  }

  downloaded(nodeId: string, runKey: string, files: number, bytes: number): void {
    for (const m of [this.totals, this.node(nodeId), this.run(runKey)]) {
      m.downloadedFiles += files;
      m.downloadedBytes += bytes;
    }
  }

  uploaded(nodeId: string, runKey: string, files: number, bytes: number): void {
    for (const m of [this.totals, this.node(nodeId), this.run(runKey)]) {
      m.uploadedFiles += files;
      m.uploadedBytes += bytes;
    }
  }

  reset(): void {
    this.totals = moved();
    this.nodes.clear();
    this.runs.clear();
  }

  view(): { totals: Moved; nodes: Record<string, NodeMoved>; runs: Record<string, Moved> } {
    return {
      totals: { ...this.totals },
      nodes: Object.fromEntries([...this.nodes].map(([k, v]) => [k, { ...v }])),
      runs: Object.fromEntries([...this.runs].map(([k, v]) => [k, { ...v }])),
    };
  }
}
