/**
 * Bad input to a consistency check: a side that does not exist, a missing key column, a malformed
 * or misplaced tolerance, column types that cannot be compared. The message names the thing and the
 * problem. The CLI turns it into exit code 2; an activity should fail with
 * `ApplicationFailure.nonRetryable(message, ErrorType.invalidInput)`: no retry can fix it.
 */
export class CheckInputError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CheckInputError';
  }
}
