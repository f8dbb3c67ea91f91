/**
 * The modal's default stylesheet. Restyle through the CSS variables (set them on
 * `.jsp-overlay`, `.jsp-dialog` or any ancestor) or the `jsp-*` class names; pass
 * `unstyled` to the modal to leave all of it out and ship your own.
 *
 * Each default is the fallback of its `var()` rather than a declaration on `.jsp-overlay`:
 * a declaration there would tie with an app's `.jsp-overlay { --jsp-accent: … }` and win
 * whenever this sheet is injected after the app's (the usual order), and would hide
 * variables set on `:root`. The same variable always has the same fallback
 * (`styles.test.ts` checks it); it is also ~30 B less gzipped than the declarations.
 */
export const jobProgressCss = `
.jsp-overlay{position:fixed;inset:0;z-index:1000;display:grid;place-items:center;padding:16px;background:var(--jsp-backdrop,rgb(15 15 20/.55));font-family:var(--jsp-font,system-ui,sans-serif);overflow-y:auto}
.jsp-dialog{box-sizing:border-box;width:100%;max-width:480px;background:var(--jsp-bg,#fff);color:var(--jsp-fg,#18181b);border-radius:var(--jsp-radius,14px);box-shadow:0 20px 50px rgb(0 0 0/.3);padding:24px;font-size:15px;line-height:1.45;font-variant-numeric:tabular-nums;outline:0}
.jsp-dialog :focus-visible{outline:2px solid var(--jsp-accent,#4f46e5);outline-offset:2px}
.jsp-head{display:flex;align-items:flex-start;gap:12px}
.jsp-title{margin:0;font-size:18px;font-weight:650}
.jsp-close{all:unset;cursor:pointer;width:32px;height:32px;margin:-6px -8px 0 auto;border-radius:8px;display:grid;place-items:center;font-size:22px;color:var(--jsp-muted,#63636e)}
.jsp-close:hover{background:var(--jsp-track,#ececf0);color:var(--jsp-fg,#18181b)}
.jsp-conn{display:inline-flex;align-items:center;gap:6px;margin-top:4px}
.jsp-conn::before{content:"";width:8px;height:8px;border-radius:50%;box-sizing:border-box;border:2px solid currentColor}
.jsp-conn[data-state=open]::before{background:var(--jsp-success,#15803d);border-color:var(--jsp-success,#15803d)}
.jsp-conn[data-state$=ing]::before{border-color:var(--jsp-warn,#b45309);border-right-color:transparent;animation:jsp-spin 1s linear infinite}
.jsp-conn[data-state=reconnecting]{color:var(--jsp-warn,#b45309)}
.jsp-status,.jsp-times{display:flex;justify-content:space-between;gap:12px}
.jsp-status{margin:16px 0 6px;font-size:14px}
.jsp-bar{height:10px;border-radius:99px;background:var(--jsp-track,#ececf0);overflow:hidden}
.jsp-bar>div{height:100%;border-radius:inherit;background:var(--jsp-accent,#4f46e5);transition:width .4s ease}
.jsp-dialog[data-status=completed] .jsp-bar>div{background:var(--jsp-success,#15803d)}
.jsp-dialog[data-status=failed] .jsp-bar>div,.jsp-dialog[data-status=cancelled] .jsp-bar>div{background:var(--jsp-muted,#63636e)}
.jsp-times{margin-top:6px}
.jsp-conn,.jsp-times,.jsp-step time{font-size:13px;color:var(--jsp-muted,#63636e)}
.jsp-topic{margin:14px 0 0;font-weight:600;color:var(--jsp-fg,#18181b)}
.jsp-msg{margin:4px 0 0;color:var(--jsp-muted,#63636e);min-height:1.45em;overflow-wrap:anywhere}
.jsp-steps{list-style:none;margin:16px 0 0;padding:12px 0 0;border-top:1px solid var(--jsp-border,#e4e4e7);display:grid;gap:8px}
.jsp-step{display:flex;align-items:center;gap:10px;color:var(--jsp-muted,#63636e)}
.jsp-step[data-status=running],.jsp-step[data-status=completed],.jsp-step[data-status=failed]{color:var(--jsp-fg,#18181b)}
.jsp-step[data-status=running]{font-weight:600}
.jsp-step time{margin-left:auto}
.jsp-mark{flex:none;box-sizing:border-box;width:20px;height:20px;border-radius:50%;border:2px solid var(--jsp-ring,#8a8a94);display:grid;place-items:center;font-size:12px;font-weight:700;color:#fff}
.jsp-step[data-status=running] .jsp-mark{border-color:var(--jsp-accent,#4f46e5);border-right-color:transparent;animation:jsp-spin 1s linear infinite}
.jsp-step[data-status=completed] .jsp-mark{background:var(--jsp-success,#15803d);border-color:var(--jsp-success,#15803d)}
.jsp-step[data-status=failed] .jsp-mark{background:var(--jsp-danger,#b91c1c);border-color:var(--jsp-danger,#b91c1c)}
.jsp-step[data-status=cancelled] .jsp-mark{color:var(--jsp-muted,#63636e)}
.jsp-alert{margin:16px 0 0;color:var(--jsp-fg,#18181b);padding:10px 12px;border-radius:8px;border-left:4px solid var(--jsp-danger,#b91c1c);background:var(--jsp-track,#ececf0)}
.jsp-alert[data-kind=success]{border-color:var(--jsp-success,#15803d)}
.jsp-alert[data-kind=info]{border-color:var(--jsp-muted,#63636e)}
.jsp-actions{display:flex;flex-wrap:wrap;justify-content:flex-end;align-items:center;gap:8px;margin-top:20px}
.jsp-actions p{flex:1 1 100%;margin:0;font-size:14px;color:var(--jsp-fg,#18181b)}
.jsp-btn{font:inherit;font-size:14px;font-weight:600;padding:8px 14px;border-radius:8px;border:1px solid var(--jsp-border,#e4e4e7);background:var(--jsp-bg,#fff);color:var(--jsp-fg,#18181b);cursor:pointer}
.jsp-btn:hover{background:var(--jsp-track,#ececf0)}
.jsp-btn[data-variant=primary]{background:var(--jsp-accent,#4f46e5);border-color:var(--jsp-accent,#4f46e5);color:#fff}
.jsp-btn[data-variant=danger]{background:var(--jsp-danger,#b91c1c);border-color:var(--jsp-danger,#b91c1c);color:#fff}
.jsp-btn:disabled,.jsp-btn[aria-disabled=true]{opacity:.6;cursor:default}
.jsp-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@keyframes jsp-spin{to{transform:rotate(360deg)}}
@media (max-width:420px){.jsp-overlay{padding:8px;align-items:end}.jsp-dialog{padding:18px}.jsp-actions .jsp-btn{flex:1}}
@media (forced-colors:active){.jsp-dialog,.jsp-bar{border:1px solid}.jsp-bar>div{forced-color-adjust:none;background:Highlight}}
@media (prefers-reduced-motion:reduce){.jsp-overlay *,.jsp-overlay ::before{animation:none!important;transition:none!important}}
`;

const STYLE_ID = 'jobstream-progress-css';

/** Adds the default stylesheet to `document.head` once. A no-op on the server. */
export function injectJobProgressCss(nonce?: string): void {
  if (typeof document === 'undefined' || document.getElementById(STYLE_ID)) return;
  const style = document.createElement('style');
  style.id = STYLE_ID;
  if (nonce) style.nonce = nonce;
  style.textContent = jobProgressCss;
  document.head.appendChild(style);
}
