// Small DOM helpers shared by the "your own classes" page's modules.

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

export type MsgKind = 'ok' | 'warn' | 'err' | 'info' | '';
/** Shows `text` in the message line `id` (role=status). */
export function say(id: string, text: string, kind: MsgKind = ''): void {
  const el = $(id);
  el.textContent = text;
  el.className = `msg ${kind}`;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

export const pct = (v: number | undefined, d = 1): string => (v !== undefined && Number.isFinite(v) ? `${(v * 100).toFixed(d)}%` : '–');
export const fmt = (v: number | undefined, d = 3): string => (v !== undefined && Number.isFinite(v) ? v.toFixed(d) : '–');
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
