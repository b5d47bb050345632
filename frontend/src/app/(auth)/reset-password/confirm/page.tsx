import type { Metadata } from 'next'
import { ResetConfirmForm } from '@/components/auth/ResetConfirmForm'
import { getMessages } from '@/i18n/server'

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getMessages()).auth.resetConfirmTitle, referrer: 'no-referrer' }
}

export default async function ResetConfirmPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>
}) {
  const { token } = await searchParams
  return <ResetConfirmForm token={typeof token === 'string' ? token : ''} />
}
