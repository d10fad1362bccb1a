import { MinusIcon, PlusIcon } from "./Icons";

/** − [n] + with a typed input; the label names what is counted, for screen readers. */
export function QuantityStepper({
  value,
  onChange,
  max = 99,
  disabled = false,
  label,
  size = "md",
}: {
  value: number;
  onChange(next: number): void;
  max?: number;
  disabled?: boolean;
  label: string;
  size?: "sm" | "md";
}) {
  const ceiling = Math.min(max, 99);
  const box = size === "sm" ? "h-8 w-8" : "h-11 w-11";
  const set = (next: number) => {
    if (Number.isNaN(next)) return;
    const clamped = Math.max(1, Math.min(ceiling, Math.floor(next)));
    if (clamped !== value) onChange(clamped);
  };
  return (
    <div role="group" aria-label={label} className="inline-flex items-center rounded-full border border-stone-300 bg-white">
      <button
        type="button"
        className={`${box} grid place-items-center rounded-full text-stone-700 hover:bg-stone-100 disabled:cursor-not-allowed disabled:opacity-40`}
        onClick={() => set(value - 1)}
        disabled={disabled || value <= 1}
        aria-label="Decrease quantity"
      >
        <MinusIcon size={16} />
      </button>
      <input
        type="number"
        inputMode="numeric"
        min={1}
        max={ceiling}
        value={value}
        disabled={disabled}
        aria-label="Quantity"
        onChange={(e) => set(Number(e.target.value))}
        className="w-10 [appearance:textfield] bg-transparent text-center text-sm font-semibold tabular-nums focus:outline-none [&::-webkit-inner-spin-button]:appearance-none [&::-webkit-outer-spin-button]:appearance-none"
      />
      <button
        type="button"
        className={`${box} grid place-items-center rounded-full text-stone-700 hover:bg-stone-100 disabled:cursor-not-allowed disabled:opacity-40`}
        onClick={() => set(value + 1)}
        disabled={disabled || value >= ceiling}
        aria-label="Increase quantity"
      >
        <PlusIcon size={16} />
      </button>
    </div>
  );
}
