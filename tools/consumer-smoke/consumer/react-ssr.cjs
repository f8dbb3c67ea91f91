// The same through require(): the CJS build of @jobstream/react.
const { JobProgressModal, useJobProgress } = require('@jobstream/react');
const { createElement } = require('react');
const { renderToString } = require('react-dom/server');

const html = renderToString(
  createElement(JobProgressModal, {
    jobId: 'job-1',
    baseUrl: 'http://127.0.0.1:9/api/generation',
    onClose: () => {},
  }),
);
console.log(JSON.stringify({ hook: typeof useJobProgress, html }));
