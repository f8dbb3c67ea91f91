'use client';

import { useRouter } from 'next/navigation';
import { useState } from 'react';

/** The demo sign-in: a name in a cookie. Jobs and courses are per name. */
export function SignIn() {
  const router = useRouter();
  const [name, setName] = useState('');
  return (
    <form
      className="card row"
      onSubmit={(event) => {
        event.preventDefault();
        const value = name.trim();
        if (!value) return;
        // biome-ignore lint/suspicious/noDocumentCookie: the demo sign-in is this one cookie, set where the name is typed
        document.cookie = `demo_user=${encodeURIComponent(value)}; path=/; max-age=2592000; samesite=lax`;
        router.refresh();
      }}
    >
      <label htmlFor="demo-name">Your name</label>
      <input
        id="demo-name"
        type="text"
        value={name}
        maxLength={40}
        onChange={(e) => setName(e.target.value)}
        placeholder="e.g. Ada"
      />
      <button className="button" type="submit">
        Sign in
      </button>
      <span className="muted">Demo sign-in: no password, your jobs are kept under this name.</span>
    </form>
  );
}
