// The test page: an app that shows the modal for ?job=<id>, in StrictMode, over the real
// client. It records what the app is told (onComplete, onClose) and every job version the
// page's watcher sees, for the test to read from `window.__page`.
import { createJobClient } from '@jobstream/client';
import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { JobProgressModal } from '../../src/index.js';

const query = new URLSearchParams(location.search);
const client = createJobClient({ baseUrl: query.get('base') ?? '/api/generation' });
const jobId = query.get('job');
const page = {
  completed: [] as unknown[],
  errors: [] as unknown[],
  closed: 0,
  versions: [] as number[],
};
(window as unknown as { __page: typeof page }).__page = page;

if (jobId) {
  // A second watcher of the same job shares the modal's connection; it logs every version.
  const watcher = client.watch(jobId);
  watcher.subscribe(() => {
    const version = watcher.getSnapshot().job?.version;
    if (version !== undefined && version !== page.versions.at(-1)) page.versions.push(version);
  });
}

function App() {
  const [open, setOpen] = useState(new URLSearchParams(location.search).has('open'));
  return (
    <main>
      <h1>Cardiology board review</h1>
      <p>412 questions · 8 topics</p>
      <button type="button" onClick={() => setOpen(true)}>
        Show progress
      </button>
      {jobId && (
        <JobProgressModal
          jobId={jobId}
          client={client}
          open={open}
          title="Generating your course"
          onClose={() => {
            page.closed++;
            setOpen(false);
          }}
          onComplete={(result) => page.completed.push(result)}
          onError={(error) => page.errors.push(error.message)}
        />
      )}
    </main>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
