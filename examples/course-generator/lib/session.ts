import { cookies } from 'next/headers';
import { userFromCookies } from './auth';

/** The signed-in user for a server component, or null. */
export async function currentUser(): Promise<string | null> {
  const jar = await cookies();
  return userFromCookies((name) => jar.get(name)?.value);
}
