// The repo's one way to launch Debian's Chromium (tools/browser-testing).
export { hasChromium, launchChromium, PHONE } from '@jobstream/browser-testing';
