import type { Metadata } from 'next'
import { VerifyEmailForm } from '@/components/auth/VerifyEmailForm'
import { getMessages } from '@/i18n/server'

export async function generateMetadata(): Promise<Metadata> {
  // The token is in the URL: it must not leave in a Referer header.
  return { title: (await getMessages()).auth.verifyTitle, referrer: 'no-referrer' }
}

export default async function VerifyEmailPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>
}) {
  const { token } = await searchParams
  return <VerifyEmailForm token={typeof token === 'string' ? token : ''} />
}
