import type { Metadata } from 'next'
import { RegisterForm } from '@/components/auth/RegisterForm'
import { getMessages } from '@/i18n/server'

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getMessages()).auth.registerTitle }
}

export default function RegisterPage() {
  return <RegisterForm />
}
