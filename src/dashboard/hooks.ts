/** The hooks every page uses: the hub's connection, polling, a clock for relative times. */
import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import type { MusterClient } from '../client/index.js';
import type { ConnectionState, HubConnection } from './connection.js';
import { errorText } from './format.js';

export const HubContext = createContext<HubConnection | null>(null);

export function useConnection(): HubConnection {
  const conn = useContext(HubContext);
  if (!conn) throw new Error('no hub connection');
  return conn;
}

/**
 * The connection's state, re-rendering on each change. Read again once subscribed: effects run
 * after paint, and a link that opened in between would otherwise be missed until its next change.
 */
export function useConnectionState(): ConnectionState {
  const conn = useConnection();
  const [state, setState] = useState(conn.state);
  useEffect(() => {
    const unsubscribe = conn.subscribe(() => setState(conn.state));
    setState(conn.state);
    return unsubscribe;
  }, [conn]);
  return state;
}

/**
 * The client a page was rendered for: handed down by the page frame, so a page whose token just
 * changed keeps its (closing) client until the frame starts it over on the new one.
 */
export const ClientContext = createContext<MusterClient | null>(null);

export function useClient(): MusterClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('rendered outside a connected page');
  return client;
}

export interface Polled<T> {
  readonly data: T | null;
  readonly error: string;
  /** Ask again now. */
  refresh(): void;
}

/**
 * Calls `load` now and every `everyMs` while the page shows, one call at a time (a slow hub is
 * never asked twice at once); `deps` start it over.
 */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: readonly unknown[]): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState('');
  const kick = useRef<() => void>(() => {});
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let busy = false;
    const run = async () => {
      if (stopped || busy) return;
      busy = true;
      if (timer) clearTimeout(timer);
      try {
        const value = await load();
        if (!stopped) { setData(value); setError(''); }
      } catch (err) {
        if (!stopped) setError(errorText(err));
      } finally {
        busy = false;
        if (!stopped) timer = setTimeout(() => void run(), everyMs);
      }
    };
    kick.current = () => void run();
    void run();
    return () => { stopped = true; if (timer) clearTimeout(timer); };
  }, deps);
  return { data, error, refresh: () => kick.current() };
}

/** Re-renders every `ms` (for "12s ago" columns that move without events). */
export function useTick(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

