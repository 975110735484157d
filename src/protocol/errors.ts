/**
 * Typed errors of the wire protocol. Every decoding or verification failure is one of these,
 * with a stable `code` a node can turn into a 4xx answer and a client into a clear message.
 */
export type ProtocolErrorCode =
  | "TRUNCATED"
  | "TRAILING_BYTES"
  | "UNKNOWN_TYPE"
  | "UNEXPECTED_TYPE"
  | "UNSUPPORTED_VERSION"
  | "FIELD_INVALID"
  | "TOO_LARGE"
  | "BAD_SIGNATURE";

export class ProtocolError extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class TruncatedMessageError extends ProtocolError {
  constructor(what: string, needed: number, available: number) {
    super("TRUNCATED", `${what}: expected ${needed} more bytes, got ${available}`);
  }
}

export class TrailingBytesError extends ProtocolError {
  constructor(type: string, extra: number) {
    super("TRAILING_BYTES", `${type}: ${extra} unexpected bytes after the message`);
  }
}

export class UnknownMessageTypeError extends ProtocolError {
  constructor(readonly tag: number) {
    super("UNKNOWN_TYPE", `unknown message type tag ${tag}`);
  }
}

export class UnexpectedMessageTypeError extends ProtocolError {
  constructor(expected: string, got: string) {
    super("UNEXPECTED_TYPE", `expected a ${expected} message, got ${got}`);
  }
}

export class UnsupportedVersionError extends ProtocolError {
  constructor(type: string, major: number, supported: number) {
    super(
      "UNSUPPORTED_VERSION",
      `${type}: major version ${major} is not supported (this build speaks ${supported})`,
    );
  }
}

export class InvalidFieldError extends ProtocolError {
  constructor(type: string, field: string, reason: string) {
    super("FIELD_INVALID", `${type}.${field}: ${reason}`);
  }
}

export class MessageTooLargeError extends ProtocolError {
  constructor(what: string, size: number, limit: number) {
    super("TOO_LARGE", `${what}: ${size} exceeds the limit of ${limit}`);
  }
}

export class BadSignatureError extends ProtocolError {
  constructor(type: string, reason: string) {
    super("BAD_SIGNATURE", `${type}: ${reason}`);
  }
}
