import { JobstreamError } from '@jobstream/core';

/**
 * `createJobServer` was given options that cannot work. Thrown at start-up, so a
 * misconfiguration fails the deploy instead of the first user's request; the message
 * says which option to set and to what.
 */
export class JobServerConfigError extends JobstreamError {
  override readonly name: string = 'JobServerConfigError';
  /** The option at fault, e.g. `secret`. */
  declare readonly option: string;

  constructor(option: string, message: string) {
    super('invalid_config', message, { details: { option } });
    this.option = option;
  }
}
