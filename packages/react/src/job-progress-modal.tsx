import type { AnyJobDefinition, ConnectionState } from '@jobstream/client';
import {
  type KeyboardEvent,
  type ReactNode,
  useEffect,
  useId,
  useInsertionEffect,
  useRef,
  useState,
} from 'react';
import { estimateTimeLeft, formatClock, formatDuration, formatTimeLeft } from './format.js';
import { injectJobProgressCss } from './styles.js';
import {
  type JobProgress,
  type UseJobProgressOptions,
  type UseJobProgressResult,
  useJobProgress,
} from './use-job-progress.js';
import { elapsedMs, STEP_MARKS, stepText, topicText } from './view-model.js';

export interface JobProgressModalProps<TDef = AnyJobDefinition>
  extends UseJobProgressOptions<TDef> {
  /** Escape and the close button call it. Closing never cancels the job. */
  onClose: () => void;
  /**
   * Hide the dialog but keep following the job (so `onComplete` still fires).
   * @default true
   */
  open?: boolean;
  /** The dialog's heading, which also labels it. @default 'Working on it' */
  title?: ReactNode;
  /** Leave out the default stylesheet (style the `jsp-*` classes yourself). @default false */
  unstyled?: boolean;
  /** CSP nonce for the injected default stylesheet. */
  nonce?: string;
  /** Extra class on the dialog element. */
  className?: string;
}

/**
 * The progress dialog: overall bar, steps, current topic, latest message, elapsed time and
 * time left, connection state, cancel (with confirmation) and resume.
 *
 * @example
 * {jobId && (
 *   <JobProgressModal<typeof courseJob>
 *     jobId={jobId}
 *     title="Generating your course"
 *     onClose={() => setJobId(null)}
 *     onComplete={({ courseId }) => router.push(`/course/${courseId}`)}
 *   />
 * )}
 */
export function JobProgressModal<TDef = AnyJobDefinition>(props: JobProgressModalProps<TDef>) {
  const state = useJobProgress<TDef>(props);
  useInsertionEffect(() => {
    if (!props.unstyled) injectJobProgressCss(props.nonce);
  }, [props.unstyled, props.nonce]);
  if (props.open === false || !props.jobId) return null;
  return (
    <JobProgressDialog
      {...state}
      onClose={props.onClose}
      title={props.title}
      className={props.className}
    />
  );
}

export type JobProgressDialogProps = UseJobProgressResult<any> &
  Pick<JobProgressModalProps, 'onClose' | 'title' | 'className'>;

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  idle: 'Connecting…',
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Offline',
};

const FOCUSABLE =
  'a[href],button:not([disabled]),input:not([disabled]),select:not([disabled]),textarea:not([disabled]),[tabindex]:not([tabindex="-1"])';

/** The dialog itself, a pure view of the hook's result (exported for custom wiring and tests). */
export function JobProgressDialog(props: JobProgressDialogProps) {
  const { progress: p, connection, onClose, title = 'Working on it' } = props;
  const titleId = useId();
  const dialog = useRef<HTMLDivElement>(null);
  const cancelButton = useRef<HTMLButtonElement>(null);
  const keepButton = useRef<HTMLButtonElement>(null);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const running = p.status === 'pending' || p.status === 'running';
  // A job that ends while the question is open leaves nothing to cancel: the question goes.
  const asking = confirming && running;
  const now = useNow(running);

  // Focus moves in on open and back to where it was on close.
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    dialog.current?.focus();
    return () => previous?.focus?.();
  }, []);

  // The safe choice takes focus when the confirmation opens. When the focused button goes
  // away (the confirmation closed, the job finished), focus goes back to "Cancel job" if it
  // is there, else to the dialog: never out of it.
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-run when the status changes the buttons
  useEffect(() => {
    if (asking) keepButton.current?.focus();
    else if (!dialog.current?.contains(document.activeElement)) {
      const cancel = cancelButton.current;
      (cancel && !cancel.disabled ? cancel : dialog.current)?.focus();
    }
  }, [asking, p.status]);

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Escape') {
      event.stopPropagation();
      if (asking) setConfirming(false);
      else onClose();
    } else if (event.key === 'Tab' && dialog.current) {
      const items = [...dialog.current.querySelectorAll<HTMLElement>(FOCUSABLE)];
      const active = document.activeElement;
      // Forward from the last item, or back from the first (or the dialog), wraps around.
      const wrapTo = event.shiftKey
        ? (active === items[0] || active === dialog.current) && items.at(-1)
        : active === items.at(-1) && items[0];
      if (wrapTo || !items.length) event.preventDefault();
      if (wrapTo) wrapTo.focus();
    }
  };

  // While a request is out its button is aria-disabled, not disabled: a focused button that
  // becomes disabled drops focus to <body>, out of the dialog, and it stayed there when the
  // request failed.
  const act = async (action: () => Promise<void>) => {
    if (busy) return;
    setBusy(true);
    setActionError(null);
    try {
      await action();
      setConfirming(false);
    } catch (error) {
      setActionError(error instanceof Error ? error.message : String(error));
    } finally {
      setBusy(false);
    }
  };

  const job = p.job;
  const elapsed = job ? elapsedMs(job, now) : 0;
  const left =
    running && job
      ? formatTimeLeft(estimateTimeLeft(p.progress, elapsed, job.estimatedDuration))
      : null;
  const percent = Math.round(p.progress);
  const heading = job ? stepText(job) : null;
  const topic = topicText(p.topic);
  const stage = heading ?? (p.status === 'idle' ? 'Loading…' : 'Starting…');
  const done = `Done in ${formatDuration(elapsed)}.`;
  const cancelled = `Cancelled${job?.cancelReason ? `: ${job.cancelReason}` : '.'}`;
  // The one live region's words: they change with the step, topic, connection or outcome,
  // never with a progress tick (failures go to role=alert instead).
  const news =
    running || p.status === 'idle'
      ? connection === 'open'
        ? [stage, topic].filter(Boolean).join('. ')
        : CONNECTION_TEXT[connection]
      : p.status === 'completed'
        ? done
        : p.status === 'cancelled'
          ? cancelled
          : '';

  return (
    <div className="jsp-overlay">
      <div
        ref={dialog}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={`${titleId}s`}
        tabIndex={-1}
        className={props.className ? `jsp-dialog ${props.className}` : 'jsp-dialog'}
        data-status={p.status}
        onKeyDown={onKeyDown}
      >
        <div className="jsp-head">
          <div>
            <h2 id={titleId} className="jsp-title">
              {title}
            </h2>
            {(running || p.status === 'idle') && (
              <span className="jsp-conn" data-state={connection}>
                {CONNECTION_TEXT[connection]}
              </span>
            )}
          </div>
          <button type="button" className="jsp-close" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </div>

        <div className="jsp-status">
          <span id={`${titleId}s`}>{stage}</span>
          <b>{percent}%</b>
        </div>
        <div
          className="jsp-bar"
          role="progressbar"
          aria-label="Overall progress"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={percent}
          aria-valuetext={`${percent}% — ${stage}`}
        >
          <div style={{ width: `${p.progress}%` }} />
        </div>
        <div className="jsp-times">
          <span>{`Elapsed ${formatClock(elapsed)}`}</span>
          {left && <span>{left}</span>}
        </div>

        {topic && <p className="jsp-topic">{topic}</p>}
        {running && <p className="jsp-msg">{p.message}</p>}

        {p.steps.length > 0 && (
          <ol className="jsp-steps" aria-label="Steps">
            {p.steps.map((step) => (
              <li key={step.name} className="jsp-step" data-status={step.status}>
                <span className="jsp-mark" aria-hidden="true">
                  {STEP_MARKS[step.status].mark}
                </span>
                <span>
                  {step.label}
                  <span className="jsp-sr"> ({STEP_MARKS[step.status].text})</span>
                </span>
                {step.duration != null && <time>{formatDuration(step.duration)}</time>}
              </li>
            ))}
          </ol>
        )}

        {p.status === 'completed' && (
          <p className="jsp-alert" data-kind="success">
            {done}
          </p>
        )}
        {p.status === 'cancelled' && (
          <p className="jsp-alert" data-kind="info">
            {cancelled}
          </p>
        )}
        <p className="jsp-sr" role="status">
          {news}
        </p>
        {p.status === 'failed' && (
          <p className="jsp-alert" role="alert">
            {p.error?.message ?? 'The job failed.'}
          </p>
        )}
        {actionError && (
          <p className="jsp-alert" role="alert">
            {actionError}
          </p>
        )}
        {/* The client gave up (404, 401…): say why instead of "Offline" over a frozen view. */}
        {connection === 'closed' && props.connectionError && (running || p.status === 'idle') && (
          <p className="jsp-alert" role="alert">
            {props.connectionError.message}
          </p>
        )}

        <div className="jsp-actions">
          {asking ? (
            <>
              <p id={`${titleId}c`}>Cancel this job? Work in progress is lost.</p>
              <button
                type="button"
                className="jsp-btn"
                ref={keepButton}
                onClick={() => setConfirming(false)}
              >
                Keep going
              </button>
              <button
                type="button"
                className="jsp-btn"
                data-variant="danger"
                aria-describedby={`${titleId}c`}
                aria-disabled={busy || undefined}
                onClick={() => act(() => props.cancelJob())}
              >
                Yes, cancel job
              </button>
            </>
          ) : (
            <>
              {running && (
                <button
                  ref={cancelButton}
                  type="button"
                  className="jsp-btn"
                  disabled={!job}
                  onClick={() => setConfirming(true)}
                >
                  Cancel job
                </button>
              )}
              {p.canResume && (
                <button
                  type="button"
                  className="jsp-btn"
                  data-variant="primary"
                  aria-disabled={busy || undefined}
                  onClick={() => act(props.resumeJob)}
                >
                  Resume
                </button>
              )}
              <button
                type="button"
                className="jsp-btn"
                data-variant={running || p.canResume ? undefined : 'primary'}
                onClick={onClose}
              >
                {running ? 'Hide' : 'Close'}
              </button>
            </>
          )}
        </div>
      </div>
    </div>
  );
}

/** The current time, re-read every second while `ticking`. */
function useNow(ticking: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!ticking) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [ticking]);
  return now;
}

export type { JobProgress };
