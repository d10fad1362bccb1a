import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { Pagination } from "./Pagination";

describe("Pagination", () => {
  it("says what is shown and moves between pages", () => {
    const onPage = vi.fn();
    render(<Pagination total={143} limit={20} offset={40} onPage={onPage} noun="stores" />);
    expect(screen.getByText(/Showing/).textContent).toBe("Showing 41–60 of 143 stores");
    expect(screen.getByRole("button", { name: "Page 3" }).getAttribute("aria-current")).toBe("page");
    fireEvent.click(screen.getByRole("button", { name: "Next page" }));
    fireEvent.click(screen.getByRole("button", { name: "Previous page" }));
    fireEvent.click(screen.getByRole("button", { name: "Page 8" }));
    expect(onPage.mock.calls).toEqual([[4], [2], [8]]);
  });

  it("disables what leads nowhere and hides page buttons for one page", () => {
    const { rerender } = render(<Pagination total={143} limit={20} offset={140} onPage={() => undefined} />);
    expect((screen.getByRole("button", { name: "Next page" }) as HTMLButtonElement).disabled).toBe(true);
    rerender(<Pagination total={5} limit={20} offset={0} onPage={() => undefined} />);
    expect(screen.queryByRole("button", { name: "Next page" })).toBeNull();
    rerender(<Pagination total={0} limit={20} offset={0} onPage={() => undefined} noun="stores" />);
    expect(screen.getByText("No stores")).toBeTruthy();
  });
});
