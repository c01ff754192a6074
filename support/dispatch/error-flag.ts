/**
 * The recipe's error event (lofarpipe's `self.error`, a threading.Event): set when any job
 * fails; the recipe decides what that means.
 */
export type ErrorFlagListener = () => void;

export class ErrorFlag {
  #set = false;
  #waiters: Array<() => void> = [];
  #listeners = new Set<ErrorFlagListener>();

  isSet(): boolean {
    return this.#set;
  }

  set(): void {
    if (this.#set) return;
    this.#set = true;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
    for (const listener of this.#listeners) listener();
  }

  clear(): void {
    this.#set = false;
  }

  /** Resolves when the flag is set (at once if it already is). */
  wait(): Promise<void> {
    if (this.#set) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Calls `listener` every time the flag goes from clear to set; returns a function that removes it. */
  onSet(listener: ErrorFlagListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
