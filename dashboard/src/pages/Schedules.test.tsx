import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { setToken } from "../api/client";
import type { Schedule } from "../api/types";
import { ADMIN, apiError, json, mockFetch, renderWithProviders } from "../test/render";
import { SchedulesPage } from "./Schedules";

afterEach(() => vi.unstubAllGlobals());

const NEXT = new Date(Date.now() + 5 * 3600_000).toISOString();
const PRUNE: Schedule = {
  name: "prune-history",
  cron: "40 3 * * *",
  workflow: "prune-history",
  input: { retention: "30d" },
  enabled: true,
  last_tick_at: "2026-12-04T09:49:36Z",
  last_run_id: null,
  next_tick_at: "2026-12-05T03:40:00Z",
};

function renderSchedules() {
  setToken("t");
  let current = { ...PRUNE };
  const mocked = mockFetch((url, init) => {
    if (url.pathname === "/api/v1/auth/me") return json({ user: ADMIN });
    if (url.pathname === "/api/v1/schedules") return json({ schedules: [current] });
    if (url.pathname === "/api/v1/schedules/prune-history" && init.method === "PATCH") {
      const { cron } = JSON.parse(String(init.body));
      if (cron.split(" ").length !== 5) {
        return apiError(
          400,
          "VALIDATION_ERROR",
          `invalid cron expression \`${cron}\`: expected 5 fields (min hour day month weekday) or 6-7 with seconds first, got ${cron.split(" ").length}`,
        );
      }
      current = { ...current, cron, next_tick_at: NEXT };
      return json({ schedule: current });
    }
    return undefined;
  });
  renderWithProviders(<SchedulesPage />, { route: "/schedules" });
  return mocked;
}

describe("changing a schedule's cron expression", () => {
  it("shows the expression in words and explains the format while editing", async () => {
    renderSchedules();
    const row = (await screen.findByText("(every day at 03:40 UTC)")).closest("tr") as HTMLElement;
    fireEvent.click(within(row).getByRole("button", { name: "Change when prune-history fires" }));
    const field = within(row).getByLabelText("When prune-history fires (cron, UTC)") as HTMLInputElement;
    expect(field.value).toBe("40 3 * * *");
    expect(row.textContent).toContain("5 fields, in UTC");
    fireEvent.keyDown(field, { key: "Escape" });
    expect(within(row).queryByLabelText("When prune-history fires (cron, UTC)")).toBeNull();
  });

  it("keeps a refused expression in the field with the reason beside it, then saves a valid one", async () => {
    const { calls } = renderSchedules();
    const row = (await screen.findByText("(every day at 03:40 UTC)")).closest("tr") as HTMLElement;
    fireEvent.click(within(row).getByRole("button", { name: "Change when prune-history fires" }));
    const field = () => within(row).getByLabelText("When prune-history fires (cron, UTC)") as HTMLInputElement;
    fireEvent.change(field(), { target: { value: "* * *" } });
    fireEvent.click(within(row).getByRole("button", { name: "Save" }));
    const error = await waitFor(() => {
      const list = row.querySelector('[data-field-errors="cron-prune-history"]');
      expect(list).not.toBeNull();
      return list as HTMLElement;
    });
    expect(error.textContent).toBe(
      "“* * *” is not a valid schedule. It has 3 fields; a schedule needs 5: minute, hour, day of month, month and day of week.",
    );
    expect(field().value).toBe("* * *");
    expect(field().getAttribute("aria-invalid")).toBe("true");
    // The format stays in view beside the refusal.
    expect(row.textContent).toContain("5 fields, in UTC");

    fireEvent.change(field(), { target: { value: "  15  4 * * * " } });
    fireEvent.click(within(row).getByRole("button", { name: "Save" }));
    const saved = await within(row).findByTestId("cron-saved");
    expect(saved.textContent).toMatch(/^Saved\. Next fire \w{3} \d{1,2}, \d{2}:\d{2} UTC \(in 5 h\)\.$/);
    expect(within(row).getByTestId("schedule-cron").textContent).toBe("15 4 * * *");
    const patches = calls.filter((c) => c.init.method === "PATCH").map((c) => JSON.parse(String(c.init.body)));
    expect(patches).toEqual([{ cron: "* * *" }, { cron: "15 4 * * *" }]);
  });
});
