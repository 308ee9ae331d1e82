import { WebSocket } from 'ws';

export type Frame = { type: string } & Record<string, unknown>;

/** A raw protocol client for the gateway tests: records every frame and the close. */
export class TestSocket {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.frames.push(JSON.parse(data.toString()) as Frame);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on('error', () => this.wake());
  }

  /** Opens a socket; the token goes as a subprotocol (default), in the query, or in an auth frame. */
  static async open(
    wsUrl: string,
    token: string | undefined,
    via: 'protocol' | 'query' | 'frame' | 'none' = 'protocol',
  ): Promise<TestSocket> {
    const url = via === 'query' && token ? `${wsUrl}?token=${encodeURIComponent(token)}` : wsUrl;
    const protocols =
      via === 'protocol' && token
        ? ['herald.v1', `herald.token.${token}`]
        : via === 'none'
          ? []
          : ['herald.v1'];
    const ws = new WebSocket(url, protocols);
    const s = new TestSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    if (via === 'frame' && token) s.send({ type: 'auth', token });
    return s;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  send(f: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(f));
  }

  messages(): Frame[] {
    return this.frames.filter((f) => f.type === 'message');
  }

  /** Waits until `ok` holds over the frames (or the close), failing after `timeoutMs`. */
  async until<T>(what: string, fn: () => T | undefined, timeoutMs = 15_000): Promise<T> {
    const found = fn();
    if (found !== undefined) return found;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(
            `timed out waiting for ${what}; frames: ${JSON.stringify(this.frames).slice(0, 800)}; closed: ${JSON.stringify(this.closed)}`,
          ),
        );
      }, timeoutMs);
      const check = () => {
        const v = fn();
        if (v === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(v);
      };
      this.waiters.add(check);
    });
  }

  frame(type: string, pred: (f: Frame) => boolean = () => true, timeoutMs?: number): Promise<Frame> {
    return this.until(
      `a ${type} frame`,
      () => this.frames.find((f) => f.type === type && pred(f)),
      timeoutMs,
    );
  }

  /** Resolves once the connect-time sync has ended (the `synced` frame). */
  synced(timeoutMs?: number): Promise<Frame> {
    return this.frame('synced', () => true, timeoutMs);
  }

  closedWith(timeoutMs?: number): Promise<{ code: number; reason: string }> {
    return this.until('the close', () => this.closed, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.ws.close(1000);
    await this.closedWith(5000).catch(() => this.ws.terminate());
  }
}
