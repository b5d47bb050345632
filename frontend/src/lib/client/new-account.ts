// The address just registered, handed from the registration page to the login form in this tab
// only (sessionStorage), so the login form starts filled in without the address in the URL.
const KEY = 'koiki:new-account-email'

export function rememberNewAccount(email: string): void {
  try {
    sessionStorage.setItem(KEY, email)
  } catch {
    // Storage refused (private mode, quota): the login form just starts empty.
  }
}

/** The remembered address, once: reading it forgets it. */
export function takeNewAccount(): string | null {
  try {
    const email = sessionStorage.getItem(KEY)
    sessionStorage.removeItem(KEY)
    return email
  } catch {
    return null
  }
}
