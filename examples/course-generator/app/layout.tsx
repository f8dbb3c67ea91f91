import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import './globals.css';

export const metadata: Metadata = {
  title: 'Exam Simulator — course generator (jobstream demo)',
  description: 'Generate a whole course from an exam, with live progress that survives reloads.',
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <header className="site-header">
          <a href="/" className="brand">
            Exam Simulator
          </a>
          <span className="tagline">course generator · a jobstream example</span>
        </header>
        <main className="page">{children}</main>
      </body>
    </html>
  );
}
