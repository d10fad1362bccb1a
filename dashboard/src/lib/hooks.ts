// Small hooks shared by the pages.

import { useCallback, useEffect, useRef, useState } from "react";
import { useSearchParams } from "react-router";

/** `value`, once it has stopped changing for `delay` ms (filters do not request per keystroke). */
export function useDebounced<T>(value: T, delay = 350): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), delay);
    return () => clearTimeout(timer);
  }, [value, delay]);
  return debounced;
}

/** The current time, re-rendering every `interval` ms while `active` (countdowns, elapsed). */
export function useNow(interval = 1000, active = true): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), interval);
    return () => clearInterval(timer);
  }, [interval, active]);
  return now;
}

/**
 * A function that calls `fn` at most once per `wait` ms: the first call runs at once, calls
 * during the wait are folded into one trailing call. Bursts of stream events cost one refetch.
 */
export function useCoalesced(fn: () => void, wait = 300): () => void {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const state = useRef<{ timer: ReturnType<typeof setTimeout> | null; pending: boolean }>({
    timer: null,
    pending: false,
  });
  useEffect(
    () => () => {
      if (state.current.timer) clearTimeout(state.current.timer);
    },
    [],
  );
  return useCallback(() => {
    const s = state.current;
    if (s.timer) {
      s.pending = true;
      return;
    }
    fnRef.current();
    const tick = () => {
      if (s.pending) {
        s.pending = false;
        fnRef.current();
        s.timer = setTimeout(tick, wait);
      } else {
        s.timer = null;
      }
    };
    s.timer = setTimeout(tick, wait);
  }, [wait]);
}

/** Sets the document title for a page. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · storeflow` : "storeflow";
  }, [title]);
}

/**
 * A list page's state in the URL: `params`, `update` (sets or clears keys; back to page 1 unless
 * told otherwise), `clear` (every filter) and a search box bound to `q`, written to the URL once
 * typing pauses.
 */
export function useUrlListState(maxSearchLength: number) {
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const [search, setSearch] = useState(q);
  const debounced = useDebounced(search.trim().slice(0, maxSearchLength), 350);
  useEffect(() => setSearch(q), [q]);
  const update = useCallback(
    (changes: Record<string, string | undefined>, resetPage = true) => {
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          for (const [key, value] of Object.entries(changes)) {
            if (value === undefined || value === "") next.delete(key);
            else next.set(key, value);
          }
          if (resetPage) next.delete("page");
          return next;
        },
        { replace: true },
      );
    },
    [setParams],
  );
  useEffect(() => {
    if (debounced !== q) update({ q: debounced || undefined });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debounced]);
  const clear = useCallback(() => setParams(new URLSearchParams(), { replace: true }), [setParams]);
  return { params, q, search, setSearch, update, clear };
}
