import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { loadRuntimeConfig } from "./config/runtime";
import "./index.css";

function ConfigProblem({ problem }: { problem: string }) {
  return (
    <main className="mx-auto max-w-md px-6 py-24 text-center">
      <h1 className="text-2xl font-bold">This shop isn't available right now</h1>
      <p className="mt-3 text-stone-600">We're setting things up. Please try again in a few minutes.</p>
      <p className="mt-6 rounded-lg bg-stone-100 px-4 py-3 text-left font-mono text-xs text-stone-600">{problem}</p>
      <button type="button" className="mt-6 rounded-full bg-stone-900 px-6 py-3 text-sm font-semibold text-white" onClick={() => window.location.reload()}>
        Try again
      </button>
    </main>
  );
}

const root = createRoot(document.getElementById("root") as HTMLElement);
loadRuntimeConfig().then((result) => {
  if (result.ok) document.title = result.config.storeName;
  root.render(<StrictMode>{result.ok ? <App config={result.config} /> : <ConfigProblem problem={result.problem} />}</StrictMode>);
});
