/** Batch's error body: `{ "odata.metadata", "code", "message": { "lang", "value" }, "values"? }`. */
export class EmulatedBatchError extends Error {
  readonly status: number;
  readonly code: string;
  readonly values: { key: string; value: string }[];

  constructor(status: number, code: string, message: string, values: { key: string; value: string }[] = []) {
    super(message);
    this.name = 'EmulatedBatchError';
    this.status = status;
    this.code = code;
    this.values = values;
  }

  body(baseUrl: string, requestId: string, now: Date): object {
    return {
      'odata.metadata': `${baseUrl}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element`,
      code: this.code,
      message: { lang: 'en-US', value: `${this.message}\nRequestId:${requestId}\nTime:${now.toISOString()}` },
      ...(this.values.length > 0 ? { values: this.values } : {}),
    };
  }
}

type Kind = 'Pool' | 'Job' | 'Task' | 'Application' | 'Node';

export const errors = {
  notFound: (kind: Kind, id: string) =>
    new EmulatedBatchError(404, `${kind}NotFound`, `The specified ${kind.toLowerCase()} does not exist.`, [
      { key: `${kind}Id`, value: id },
    ]),
  exists: (kind: 'Pool' | 'Job' | 'Task', id: string) =>
    new EmulatedBatchError(409, `${kind}Exists`, `The specified ${kind.toLowerCase()} already exists.`, [
      { key: `${kind}Id`, value: id },
    ]),
  invalidProperty: (name: string, reason: string) =>
    new EmulatedBatchError(
      400,
      'InvalidPropertyValue',
      'The value provided for one of the properties in the request body is invalid.',
      [
        { key: 'PropertyName', value: name },
        { key: 'Reason', value: reason },
      ],
    ),
  missingProperty: (name: string) =>
    new EmulatedBatchError(
      400,
      'MissingRequiredProperty',
      'A required property was not specified in the request body.',
      [{ key: 'PropertyName', value: name }],
    ),
  invalidBody: (reason: string) =>
    new EmulatedBatchError(
      400,
      'InvalidRequestBody',
      'The specified Request Body is not syntactically valid.',
      [{ key: 'Reason', value: reason }],
    ),
  invalidQuery: (name: string, value: string, reason: string) =>
    new EmulatedBatchError(
      400,
      'InvalidQueryParameterValue',
      'Value for one of the query parameters specified in the request URI is invalid.',
      [
        { key: 'QueryParameterName', value: name },
        { key: 'QueryParameterValue', value },
        { key: 'Reason', value: reason },
      ],
    ),
  tooLarge: () =>
    new EmulatedBatchError(
      413,
      'RequestBodyTooLarge',
      'The request body is too large and exceeds the maximum permissible limit.',
      [{ key: 'MaxLimit', value: '1MB' }],
    ),
  verb: () =>
    new EmulatedBatchError(
      405,
      'UnsupportedHttpVerb',
      "The resource doesn't support the specified HTTP verb.",
    ),
  resource: (req: { method: string; url: URL }) =>
    new EmulatedBatchError(404, 'ResourceNotFound', 'The specified resource does not exist.', [
      { key: 'Resource', value: `${req.method} ${req.url.pathname}` },
    ]),
  conflict: (code: string, message: string) => new EmulatedBatchError(409, code, message),
};
