import { expect } from 'chai';
import { ErrorFlag } from '../../../support/dispatch/error-flag.js';

/** Whether a promise has settled after the pending microtasks and one macrotask ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => { done = true; });
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('support/dispatch/error-flag', () => {
  it('starts clear', () => {
    expect(new ErrorFlag().isSet()).to.equal(false);
  });

  it('set() sets it and clear() clears it', () => {
    const flag = new ErrorFlag();
    flag.set();
    expect(flag.isSet()).to.equal(true);
    flag.set();
    expect(flag.isSet()).to.equal(true);
    flag.clear();
    expect(flag.isSet()).to.equal(false);
    flag.clear();
    expect(flag.isSet()).to.equal(false);
  });

  describe('wait()', () => {
    it('resolves at once when the flag is already set', async () => {
      const flag = new ErrorFlag();
      flag.set();
      expect(await settled(flag.wait())).to.equal(true);
    });

    it('stays pending while the flag is clear, and resolves every waiter when it is set', async () => {
      const flag = new ErrorFlag();
      const first = flag.wait();
      const second = flag.wait();
      expect(await settled(first)).to.equal(false);
      expect(await settled(second)).to.equal(false);
      flag.set();
      expect(await settled(first)).to.equal(true);
      expect(await settled(second)).to.equal(true);
    });

    it('waits again after clear()', async () => {
      const flag = new ErrorFlag();
      flag.set();
      flag.clear();
      const waiting = flag.wait();
      expect(await settled(waiting)).to.equal(false);
      flag.set();
      expect(await settled(waiting)).to.equal(true);
    });

    it('does not resolve a waiter on clear()', async () => {
      const flag = new ErrorFlag();
      const waiting = flag.wait();
      flag.clear();
      expect(await settled(waiting)).to.equal(false);
    });
  });

  describe('onSet()', () => {
    it('calls the listener when the flag goes from clear to set', () => {
      const flag = new ErrorFlag();
      let calls = 0;
      flag.onSet(() => calls++);
      flag.set();
      expect(calls).to.equal(1);
    });

    it('does not call it again for set() on a flag that is already set', () => {
      const flag = new ErrorFlag();
      let calls = 0;
      flag.onSet(() => calls++);
      flag.set();
      flag.set();
      flag.set();
      expect(calls).to.equal(1);
    });

    it('calls it every time the flag is set again after clear()', () => {
      const flag = new ErrorFlag();
      let calls = 0;
      flag.onSet(() => calls++);
      flag.set();
      flag.clear();
      flag.set();
      flag.clear();
      flag.set();
      expect(calls).to.equal(3);
    });

    it('does not call a listener added after the flag was set until the next set', () => {
      const flag = new ErrorFlag();
      flag.set();
      let calls = 0;
      flag.onSet(() => calls++);
      expect(calls).to.equal(0);
      flag.clear();
      flag.set();
      expect(calls).to.equal(1);
    });

    it('sees the flag already set inside the listener', () => {
      const flag = new ErrorFlag();
      let seen: boolean | undefined;
      flag.onSet(() => { seen = flag.isSet(); });
      flag.set();
      expect(seen).to.equal(true);
    });

    it('calls every listener, and the returned function removes one', () => {
      const flag = new ErrorFlag();
      const calls: string[] = [];
      const removeA = flag.onSet(() => calls.push('a'));
      flag.onSet(() => calls.push('b'));
      flag.set();
      expect(calls).to.deep.equal(['a', 'b']);
      removeA();
      flag.clear();
      flag.set();
      expect(calls).to.deep.equal(['a', 'b', 'b']);
    });
  });
});
