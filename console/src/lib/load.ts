// Loading what a view shows: once (with a reload), or polled on a timer; the error as a message either way.
import { useCallback, useEffect, useState, type DependencyList } from 'react';

/// What a failure says, whatever was thrown.
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/// Loads when `deps` change; `reload` loads again (after a change, or from a retry button).
export function useLoad<T>(fetch: () => Promise<T>, deps: DependencyList) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = useCallback(async () => {
    setError(null);
    try {
      setData(await fetch());
    } catch (e) {
      setError(messageOf(e));
    }
    // The caller's `deps` say when `fetch` (a fresh closure each render) means something new.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, reload };
}

/// Loads now and then every `everyMs` until unmounted, keeping the last good data through a failure.
export function usePoll<T>(fetch: () => Promise<T>, everyMs: number, deps: DependencyList) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const next = await fetch();
        if (!stopped) {
          setData(next);
          setError(null);
        }
      } catch (e) {
        if (!stopped) setError(messageOf(e));
      }
      if (!stopped) timer = setTimeout(poll, everyMs);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
    // As in useLoad: the caller's `deps` stand for `fetch`.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [everyMs, ...deps]);
  return { data, error };
}
