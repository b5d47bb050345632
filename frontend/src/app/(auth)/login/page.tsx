import type { Metadata } from 'next'
import { cookies } from 'next/headers'
import { redirect } from 'next/navigation'
import { LoginForm, type LoginReason } from '@/components/auth/LoginForm'
import { getMessages } from '@/i18n/server'
import { safeNext } from '@/lib/redirect'
import { readLinkCookie, ssoLinkCookieName, ssoProviders } from '@/lib/server/sso'
import { getCurrentUser } from '@/lib/server/auth'

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getMessages()).auth.loginTitle }
}

type Params = Promise<Record<string, string | string[] | undefined>>

const REASONS = new Set(['expired', 'registered', 'reset', 'logged_out', 'verified'])

async function signedIn(): Promise<boolean> {
  try {
    return (await getCurrentUser()) !== null
  } catch {
    // The API is unreachable: show the form; signing in will report the outage.
    return false
  }
}

export default async function LoginPage({ searchParams }: { searchParams: Params }) {
  const params = await searchParams
  const next = safeNext(typeof params.next === 'string' ? params.next : null)
  if (await signedIn()) redirect(next)
  const reason = typeof params.reason === 'string' && REASONS.has(params.reason) ? (params.reason as LoginReason) : null
  const ssoError = typeof params.sso_error === 'string' && /^[a-z_]{1,64}$/.test(params.sso_error) ? params.sso_error : null
  // A first sign-in onto this password account: its password, once, links the provider.
  const link =
    ssoError === 'sso_link_required' ? readLinkCookie((await cookies()).get(ssoLinkCookieName())?.value) : null
  return (
    <LoginForm
      next={next}
      reason={reason}
      providers={await ssoProviders()}
      ssoError={ssoError}
      linkProvider={link?.provider ?? null}
    />
  )
}
