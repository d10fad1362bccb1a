import { Route, Routes } from "react-router";

import { AuthProvider } from "./auth/AuthContext";
import { GuestOnly, RequireAdmin, RequireAuth } from "./components/Layout";
import { Toaster } from "./components/Toaster";
import { AccountPage } from "./pages/Account";
import { AuditPage } from "./pages/Audit";
import { BackupsPage } from "./pages/Backups";
import { CreateStorePage } from "./pages/CreateStore";
import { LoginPage, RegisterPage, ResetPasswordPage, SignedInRegistration } from "./pages/Auth";
import { NotFoundPage } from "./pages/NotFound";
import { OverviewPage } from "./pages/Overview";
import { RolloutDetailPage } from "./pages/RolloutDetail";
import { RolloutsPage } from "./pages/Rollouts";
import { RunDetailPage } from "./pages/RunDetail";
import { RunsPage } from "./pages/Runs";
import { SchedulesPage } from "./pages/Schedules";
import { StoreDetailPage } from "./pages/StoreDetail";
import { StoresPage } from "./pages/Stores";
import { UsersPage } from "./pages/Users";
import { WorkflowsPage } from "./pages/Workflows";

export function App() {
  return (
    <Toaster>
      <AuthProvider>
        <Routes>
          <Route
            path="/login"
            element={
              <GuestOnly>
                <LoginPage />
              </GuestOnly>
            }
          />
          <Route
            path="/register"
            element={
              <GuestOnly signedIn={<SignedInRegistration />}>
                <RegisterPage />
              </GuestOnly>
            }
          />
          {/* A forced reset's link: for whoever holds it, signed in or not. */}
          <Route path="/reset-password" element={<ResetPasswordPage />} />
          <Route element={<RequireAuth />}>
            <Route index element={<OverviewPage />} />
            <Route path="stores" element={<StoresPage />} />
            <Route path="stores/new" element={<CreateStorePage />} />
            <Route path="stores/:id" element={<StoreDetailPage />} />
            <Route path="backups" element={<BackupsPage />} />
            <Route path="audit" element={<AuditPage />} />
            <Route path="account" element={<AccountPage />} />
            <Route
              path="runs"
              element={
                <RequireAdmin>
                  <RunsPage />
                </RequireAdmin>
              }
            />
            <Route
              path="runs/:id"
              element={
                <RequireAdmin>
                  <RunDetailPage />
                </RequireAdmin>
              }
            />
            <Route
              path="rollouts"
              element={
                <RequireAdmin>
                  <RolloutsPage />
                </RequireAdmin>
              }
            />
            <Route
              path="rollouts/:id"
              element={
                <RequireAdmin>
                  <RolloutDetailPage />
                </RequireAdmin>
              }
            />
            <Route
              path="workflows"
              element={
                <RequireAdmin>
                  <WorkflowsPage />
                </RequireAdmin>
              }
            />
            <Route
              path="schedules"
              element={
                <RequireAdmin>
                  <SchedulesPage />
                </RequireAdmin>
              }
            />
            <Route
              path="users"
              element={
                <RequireAdmin>
                  <UsersPage />
                </RequireAdmin>
              }
            />
            <Route path="*" element={<NotFoundPage />} />
          </Route>
        </Routes>
      </AuthProvider>
    </Toaster>
  );
}
