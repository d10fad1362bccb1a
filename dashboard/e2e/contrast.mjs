// Text contrast as Chromium renders it: every visible text of the page, its computed color
// against the backgrounds it sits on (composited, with ancestors' opacity), checked against
// WCAG 2.x — 4.5:1 for body text, 3:1 for large text (24 px, or 18.66 px bold). Disabled
// controls are exempt (WCAG 1.4.3 "incidental"); text over images or gradients is skipped.

/** The failing texts of the page: [{text, ratio, color, background, min, element}]. */
export async function contrastProblems(page) {
  return page.evaluate(() => {
    // Colors as they settle: a transition caught halfway (a button going from hover to
    // disabled) is no color anyone reads.
    for (const animation of document.getAnimations()) {
      try {
        animation.finish();
      } catch {
        // Infinite animations (spinners, pulses) cannot finish; they change no text color.
      }
    }
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 1;
    const context = canvas.getContext("2d", { willReadFrequently: true });
    const cache = new Map();
    // The browser's own conversion of any CSS color (oklch included) to sRGB.
    const rgba = (color) => {
      if (cache.has(color)) return cache.get(color);
      context.clearRect(0, 0, 1, 1);
      context.fillStyle = "#000";
      context.fillStyle = color;
      context.fillRect(0, 0, 1, 1);
      const [r, g, b, a] = context.getImageData(0, 0, 1, 1).data;
      const value = [r, g, b, a / 255];
      cache.set(color, value);
      return value;
    };
    const over = (top, bottom) => {
      const a = top[3];
      return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat(1);
    };
    const luminance = ([r, g, b]) => {
      const channel = (v) => {
        const c = v / 255;
        return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    };
    const ratio = (x, y) => {
      const [a, b] = [luminance(x), luminance(y)].sort((p, q) => q - p);
      return (a + 0.05) / (b + 0.05);
    };

    const problems = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const element = node.parentElement;
      if (!element || seen.has(element) || !node.textContent.trim()) continue;
      seen.add(element);
      if (["SCRIPT", "STYLE", "NOSCRIPT", "OPTION"].includes(element.tagName)) continue;
      if (!element.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
      const rect = element.getBoundingClientRect();
      if (rect.width <= 1 || rect.height <= 1) continue; // sr-only
      if (element.closest("button:disabled, input:disabled, select:disabled, [aria-disabled='true']")) continue;

      const style = getComputedStyle(element);
      let text = rgba(style.color);
      // Backgrounds from the element up; opacity of every ancestor fades the text.
      const layers = [];
      let opacity = 1;
      let skip = false;
      for (let el = element; el; el = el.parentElement) {
        const s = getComputedStyle(el);
        opacity *= Number(s.opacity);
        if (s.backgroundImage && s.backgroundImage !== "none") {
          skip = true;
          break;
        }
        const bg = rgba(s.backgroundColor);
        if (bg[3] > 0) layers.push(bg);
        if (bg[3] >= 1) break;
      }
      if (skip) continue;
      let background = [255, 255, 255, 1];
      for (const layer of layers.reverse()) background = over(layer, background);
      text = over([text[0], text[1], text[2], text[3] * opacity], background);
      const size = parseFloat(style.fontSize);
      const bold = Number(style.fontWeight) >= 700;
      const min = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
      const value = ratio(text, background);
      if (value + 1e-6 < min) {
        const cls = typeof element.className === "string" ? element.className : "";
        problems.push({
          text: node.textContent.trim().slice(0, 60),
          ratio: Math.round(value * 100) / 100,
          min,
          color: style.color,
          background: `rgb(${background.slice(0, 3).map(Math.round).join(" ")})`,
          element: `${element.tagName.toLowerCase()}${cls ? `.${cls.split(/\s+/).slice(0, 6).join(".")}` : ""}`,
        });
      }
    }
    return problems;
  });
}

/** Fails with the list of texts under their contrast minimum. */
export async function assertContrast(page, label) {
  const problems = await contrastProblems(page);
  if (problems.length) {
    const lines = problems.map((p) => `${p.ratio}:1 < ${p.min}:1  "${p.text}"  ${p.color} on ${p.background}  <${p.element}>`);
    throw new Error(`${label}: ${problems.length} text(s) under the contrast minimum:\n  ${lines.join("\n  ")}`);
  }
}
