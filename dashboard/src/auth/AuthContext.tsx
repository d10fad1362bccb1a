// Who is signed in. The token lives in localStorage; on start the provider asks /auth/me who it
// belongs to. When any request reports the session expired, the user is sent to sign in and,
// afterwards, back to the page they were on (`/login?next=...`).

import { useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

import { api, ApiError, clearToken, getToken, onSessionExpired, setToken } from "../api/client";
import type { AuthAnswer, User } from "../api/types";

export type AuthStatus = "loading" | "authenticated" | "anonymous";

export interface AuthValue {
  status: AuthStatus;
  user: User | null;
  isAdmin: boolean;
  /** Why there is no session: the API refused its token, or the user signed out. */
  ended: "expired" | "signed-out" | null;
  /** Set right after registering: the role the new account got (the first one is admin). */
  welcome: User["role"] | null;
  dismissWelcome: () => void;
  login: (email: string, password: string) => Promise<User>;
  register: (email: string, username: string, password: string) => Promise<User>;
  logout: () => void;
  changePassword: (currentPassword: string, newPassword: string) => Promise<string>;
}

const AuthContext = createContext<AuthValue | null>(null);

/** Where to go after signing in: a path of this app only (no open redirect). */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  if (next.startsWith("/login") || next.startsWith("/register")) return "/";
  return next;
}

export function loginPath(next: string, reason?: "expired"): string {
  const params = new URLSearchParams();
  if (next && next !== "/") params.set("next", next);
  if (reason) params.set("reason", reason);
  const query = params.toString();
  return query ? `/login?${query}` : "/login";
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [status, setStatus] = useState<AuthStatus>(() => (getToken() ? "loading" : "anonymous"));
  const [ended, setEnded] = useState<AuthValue["ended"]>(null);
  const [welcome, setWelcome] = useState<User["role"] | null>(null);
  const queryClient = useQueryClient();

  // Validate a stored token once.
  useEffect(() => {
    if (!getToken()) return;
    const controller = new AbortController();
    api<{ user: User }>("/auth/me", { signal: controller.signal })
      .then((answer) => {
        setUser(answer.user);
        setStatus("authenticated");
      })
      .catch((error: unknown) => {
        if (controller.signal.aborted) return;
        // A refused token is an expired session; anything else (server down) still leaves us
        // unable to say who this is.
        if (error instanceof ApiError && error.status === 401) setEnded("expired");
        clearToken();
        setUser(null);
        setStatus("anonymous");
      });
    return () => controller.abort();
  }, []);

  // Any request refused for its token ends the session; RequireAuth then sends the user to
  // sign in, with the page they were on as `next`.
  useEffect(
    () =>
      onSessionExpired(() => {
        clearToken();
        setUser(null);
        setWelcome(null);
        setEnded("expired");
        setStatus("anonymous");
        queryClient.clear();
      }),
    [queryClient],
  );

  const accept = useCallback(
    (answer: AuthAnswer) => {
      queryClient.clear();
      setToken(answer.token);
      setUser(answer.user);
      setEnded(null);
      setStatus("authenticated");
      return answer.user;
    },
    [queryClient],
  );

  const login = useCallback(
    (email: string, password: string) =>
      api<AuthAnswer>("/auth/login", { method: "POST", body: { email, password } }).then(accept),
    [accept],
  );

  const register = useCallback(
    (email: string, username: string, password: string) =>
      api<AuthAnswer>("/auth/register", { method: "POST", body: { email, username, password } }).then((answer) => {
        setWelcome(answer.user.role);
        return accept(answer);
      }),
    [accept],
  );

  const logout = useCallback(() => {
    clearToken();
    setUser(null);
    setWelcome(null);
    setEnded("signed-out");
    setStatus("anonymous");
    queryClient.clear();
  }, [queryClient]);

  const changePassword = useCallback(async (currentPassword: string, newPassword: string) => {
    const answer = await api<{ token: string; message: string }>("/auth/password", {
      method: "PATCH",
      body: { currentPassword, newPassword },
    });
    // Earlier tokens are revoked: carry on with the new one.
    setToken(answer.token);
    return answer.message;
  }, []);

  const value = useMemo<AuthValue>(
    () => ({
      status,
      user,
      isAdmin: user?.role === "admin",
      ended,
      welcome,
      dismissWelcome: () => setWelcome(null),
      login,
      register,
      logout,
      changePassword,
    }),
    [status, user, ended, welcome, login, register, logout, changePassword],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}
