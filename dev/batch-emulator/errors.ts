/** Batch's error body: `{ "odata.metadata", "code", "message": { "lang", "value" }, "values"? }`. */
export class EmulatedBatchError extends Error {
  readonly status: number;
  readonly code: string;
  readonly values: { key: string; value: string }[];
  constructor(status: number, code: string, message: string, values: { key: string; value: string }[] = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.values = values;
  }
  body(baseUrl: string, requestId: string): object {
    return {
      'odata.metadata': `${baseUrl}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element`,
      code: this.code,
      message: {
        lang: 'en-US',
        value: `${this.message}\nRequestId:${requestId}\nTime:${new Date().toISOString()}`,
      },
      ...(this.values.length > 0 ? { values: this.values } : {}),
    };
  }
}

export const errors = {
  notFound: (kind: 'Pool' | 'Job' | 'Task' | 'Application' | 'Node', id: string) =>
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
  conflict: (code: string, message: string) => new EmulatedBatchError(409, code, message),
};
