/**
 * Whether HTTP responses stream (`app.setup({ enableHttpStream })`, @azure/functions v4 with host
 * 4.28+). Both hosts read this one value: the Azure entry (functions/index.ts) passes it to the
 * library, and the dev host writes responses the way the host then does.
 *
 * On, because results are downloaded through the API (GET /api/jobs/{id}/outputs/{*path}) and an
 * output may be far larger than an instance's memory: streamed, its bytes pass through in chunks as
 * Blob Storage sends them. Off, the library reads a whole body into memory before the host sends
 * it. With streams every answer goes out as the handler's stream: a body without a declared
 * `content-length` is sent chunked.
 */
export const HTTP_STREAMS = true;
