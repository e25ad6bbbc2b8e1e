/**
 * Simulated file transfers around a task: resource files downloaded before it runs and output files
 * uploaded after. Nothing is transferred; a URL whose host ends in `.invalid` (a name reserved by
 * RFC 6761 that never resolves) stands for storage Batch cannot reach, so tests can script Batch's
 * pre-processing and file upload errors without a network.
 */
import type { FailureInfo } from './model.js';

const unreachable = (url: unknown): boolean => {
  if (typeof url !== 'string') return false;
  try {
    return new URL(url).hostname.toLowerCase().endsWith('.invalid');
  } catch {
    return false;
  }
};

/** The pre-processing error of a task whose resource file cannot be downloaded, if any. */
export function preProcessingFailure(body: Record<string, unknown>): FailureInfo | undefined {
  const files = Array.isArray(body.resourceFiles) ? (body.resourceFiles as Record<string, unknown>[]) : [];
  const bad = files.find((f) => unreachable(f.httpUrl) || unreachable(f.storageContainerUrl));
  if (!bad) return undefined;
  return {
    category: 'usererror',
    code: 'BlobDownloadMiscError',
    message: 'Miscellaneous error encountered while downloading one of the specified Azure Blob(s)',
    details: [{ name: 'FilePath', value: String(bad.filePath ?? '') }],
  };
}

/** The file upload error of a task whose output file destination cannot be reached, if any. */
export function fileUploadFailure(body: Record<string, unknown>): FailureInfo | undefined {
  const files = Array.isArray(body.outputFiles) ? (body.outputFiles as Record<string, unknown>[]) : [];
  const bad = files.find((f) => {
    const container = (f.destination as { container?: { containerUrl?: unknown } } | undefined)?.container;
    return unreachable(container?.containerUrl);
  });
  if (!bad) return undefined;
  return {
    category: 'usererror',
    code: 'FileUploadMiscError',
    message: 'Miscellaneous error encountered while uploading one of the output files',
    details: [{ name: 'FilePattern', value: String(bad.filePattern ?? '') }],
  };
}
