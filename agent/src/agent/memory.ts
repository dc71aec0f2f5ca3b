/**
 * Handing garbage back to the system at the agent's quiet points. V8 does
 * it by itself once a process has allocated nothing for several seconds,
 * but an update often starts right after start-up (the retained
 * announcement arrives with the connection), and then start-up garbage
 * would add to the download's peak. A full collection at those points
 * costs a few milliseconds on the agent's small heap.
 *
 * It needs `--expose-gc` (the systemd unit sets it in NODE_OPTIONS); without
 * it this does nothing.
 */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
