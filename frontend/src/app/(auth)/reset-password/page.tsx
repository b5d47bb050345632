import type { Metadata } from 'next'
import { ResetRequestForm } from '@/components/auth/ResetRequestForm'
import { getMessages } from '@/i18n/server'

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getMessages()).auth.resetTitle }
}

export default function ResetPasswordPage() {
  return <ResetRequestForm />
}
