import type { Decision } from './types';

/** Collects a {@link Decision}; `wait` is safe for any id, `__proto__` included. */
export class DecisionBuilder {
  readonly admit: string[] = [];
  readonly preempt: string[] = [];
  readonly waiting: Record<string, string> = {};

  wait(id: string, reason: string): void {
    if (id === '__proto__') {
      Object.defineProperty(this.waiting, id, { value: reason, enumerable: true, writable: true, configurable: true });
    } else {
      this.waiting[id] = reason;
    }
  }

  build(): Decision {
    return { admit: this.admit, preempt: this.preempt, waiting: this.waiting };
  }
}
