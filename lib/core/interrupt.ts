// Stopping long work cleanly. Ctrl-C in the CLI and Kernel > Interrupt in a notebook both send SIGINT, which only
// reaches JavaScript between macrotasks; a training loop whose awaits are all resolved promises never gives it one.
// So the loops call interruptPoint() between steps: it yields once to the event loop and throws Interrupted when a
// SIGINT came, and the work stops within a step, its last saved state ready to resume.

export class Interrupted extends Error {
  constructor() {
    super('interrupted (SIGINT)');
    this.name = 'Interrupted';
  }
}

interface InterruptState {
  pending: boolean;
  listening: boolean;
  /** Drivers waiting on workers (untilInterrupted), told at the next SIGINT. */
  waiters?: Set<() => void>;
  /** The CLI: a second SIGINT while the first waits for a loop exits at once (a notebook kernel must live on). */
  exitOnSecond: boolean;
}

// On globalThis: tslab compiles lib/ again when an import cell is rerun, and one listener must serve every copy.
const state: InterruptState = ((globalThis as { glitInterrupt?: InterruptState }).glitInterrupt ??= {
  pending: false,
  listening: false,
  waiters: new Set(),
  exitOnSecond: false,
});

/** For the CLI: a second Ctrl-C exits at once, when the first is still waiting for a loop to reach a step's end. */
export function exitOnSecondInterrupt(): void {
  state.exitOnSecond = true;
}

/**
 * Yields to the event loop, then throws Interrupted if a SIGINT arrived since the last call. The listener is added on
 * the first call, so that until some loop runs, SIGINT keeps its default meaning (the CLI stops at once); and after
 * the yield: a listener added while a tslab cell's synchronous part runs (node's vm with breakOnSigint swaps SIGINT's
 * listeners around it) leaves the kernel deaf to every later interrupt.
 */
export async function interruptPoint(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  listen();
  if (state.pending) {
    state.pending = false;
    throw new Interrupted();
  }
}

function listen(): void {
  if (state.listening) return;
  state.listening = true;
  process.on('SIGINT', () => {
    if (state.pending && state.exitOnSecond) process.exit(130);
    state.pending = true;
    state.waiters?.forEach((wake) => wake());
  });
}

/**
 * Waits for `work` (a driver waiting on its workers, which stop at their own interrupt points), throwing Interrupted
 * at the next SIGINT instead.
 */
export async function unlessInterrupted<T>(work: Promise<T>): Promise<T> {
  // After a yield, as in interruptPoint: never from a notebook cell's synchronous part.
  await new Promise((resolve) => setImmediate(resolve));
  listen();
  if (state.pending) {
    // A SIGINT that came before this wait began (while a driver submitted its jobs, say).
    state.pending = false;
    throw new Interrupted();
  }
  let wake!: () => void;
  const interrupted = new Promise<never>((_, reject) => {
    wake = () => {
      state.pending = false;
      reject(new Interrupted());
    };
  });
  // (A kernel may hold this state from an older copy of this module, made before waiters existed.)
  (state.waiters ??= new Set()).add(wake);
  try {
    return await Promise.race([work, interrupted]);
  } finally {
    state.waiters?.delete(wake);
  }
}
