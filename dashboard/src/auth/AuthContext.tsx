// Who is signed in. The token lives in localStorage; on start the provider asks /auth/me who it
// belongs to. When any request reports the session expired, the user is sent to sign in and,
// afterwards, back to the page they were on (`/login?next=...`). Signing out everywhere ends
// every session of the account, this one included (`/login?reason=signed-out-everywhere`).

import { useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

import { api, ApiError, clearToken, getToken, onSessionExpired, setToken } from "../api/client";
import type {
  LoginBody,
  Me,
  PasswordBody,
  PasswordChanged,
  PasswordReset,
  RegisterBody,
  ResetBody,
  SignedIn,
  SignedOut,
  User,
} from "../api/types";

export type AuthStatus = "loading" | "authenticated" | "anonymous";

export interface AuthValue {
  status: AuthStatus;
  user: User | null;
  isAdmin: boolean;
  /** Why there is no session: the API refused its token, or the user signed out (here, or everywhere). */
  ended: "expired" | "signed-out" | "signed-out-everywhere" | null;
  /** Set right after registering: the role the new account got (the first one is admin). */
  welcome: User["role"] | null;
  /** Whether that registration came from an invitation (so an admin role is not "the first account"). */
  welcomeInvited: boolean;
  dismissWelcome: () => void;
  login: (email: string, password: string) => Promise<User>;
  /** `inviteToken`: from an operator's invitation link (required while registration is closed). */
  register: (email: string, username: string, password: string, inviteToken?: string) => Promise<User>;
  logout: () => void;
  /** Ends every session of the account, this one included. */
  logoutEverywhere: () => Promise<void>;
  changePassword: (currentPassword: string, newPassword: string) => Promise<string>;
  /**
   * Sets a new password with a reset link's token. Signs in as that account, unless it is
   * disabled (then `signedIn` is false and `message` says why).
   */
  completePasswordReset: (token: string, newPassword: string) => Promise<{ message: string; signedIn: boolean }>;
}

const AuthContext = createContext<AuthValue | null>(null);

/** Where to go after signing in: a path of this app only (no open redirect). */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  if (next.startsWith("/login") || next.startsWith("/register") || next.startsWith("/reset-password")) return "/";
  return next;
}

export function loginPath(next: string, reason?: "expired" | "signed-out-everywhere"): string {
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
  const [welcomeInvited, setWelcomeInvited] = useState(false);
  const queryClient = useQueryClient();

  // Validate a stored token once.
  useEffect(() => {
    if (!getToken()) return;
    const controller = new AbortController();
    api<Me>("/auth/me", { signal: controller.signal })
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
    (answer: Pick<SignedIn, "user" | "token">) => {
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
      api<SignedIn>("/auth/login", { method: "POST", body: { email, password } satisfies LoginBody }).then(accept),
    [accept],
  );

  const register = useCallback(
    (email: string, username: string, password: string, inviteToken?: string) =>
      api<SignedIn>("/auth/register", {
        method: "POST",
        body: (inviteToken
          ? { email, username, password, inviteToken }
          : { email, username, password }) satisfies RegisterBody,
      }).then((answer) => {
        setWelcome(answer.user.role);
        setWelcomeInvited(!!inviteToken);
        return accept(answer);
      }),
    [accept],
  );

  const end = useCallback(
    (why: "signed-out" | "signed-out-everywhere") => {
      clearToken();
      setUser(null);
      setWelcome(null);
      setEnded(why);
      setStatus("anonymous");
      queryClient.clear();
    },
    [queryClient],
  );

  const logout = useCallback(() => end("signed-out"), [end]);

  const logoutEverywhere = useCallback(async () => {
    await api<SignedOut>("/auth/logout-all", { method: "POST" });
    end("signed-out-everywhere");
  }, [end]);

  const completePasswordReset = useCallback(
    async (token: string, newPassword: string) => {
      const answer = await api<PasswordReset>("/auth/password-reset", {
        method: "POST",
        body: { token, newPassword } satisfies ResetBody,
      });
      if (answer.user && answer.token) {
        accept({ user: answer.user, token: answer.token });
        return { message: answer.message, signedIn: true };
      }
      return { message: answer.message, signedIn: false };
    },
    [accept],
  );

  const changePassword = useCallback(async (currentPassword: string, newPassword: string) => {
    const answer = await api<PasswordChanged>("/auth/password", {
      method: "PATCH",
      body: { currentPassword, newPassword } satisfies PasswordBody,
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
      welcomeInvited,
      dismissWelcome: () => setWelcome(null),
      login,
      register,
      logout,
      logoutEverywhere,
      changePassword,
      completePasswordReset,
    }),
    [
      status,
      user,
      ended,
      welcome,
      welcomeInvited,
      login,
      register,
      logout,
      logoutEverywhere,
      changePassword,
      completePasswordReset,
    ],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}
