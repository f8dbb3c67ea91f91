// Server-side rendering of the modal in plain Node (no DOM): what a Next.js server
// component page does with the built @jobstream/react and React from the registry.
import { JobProgressModal } from '@jobstream/react';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';

const html = renderToString(
  createElement(JobProgressModal, {
    jobId: 'job-1',
    baseUrl: 'http://127.0.0.1:9/api/generation',
    onClose: () => {},
  }),
);
console.log(JSON.stringify({ hasDocument: typeof document !== 'undefined', html }));
