import type { Metadata } from 'next'
import { ProfileView } from '@/components/profile/ProfileView'
import { getMessages } from '@/i18n/server'
import { ssoProviders } from '@/lib/server/sso'

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getMessages()).profile.title }
}

type Params = Promise<Record<string, string | string[] | undefined>>

export default async function ProfilePage({ searchParams }: { searchParams: Params }) {
  const params = await searchParams
  const ssoError = typeof params.sso_error === 'string' && /^[a-z_]{1,64}$/.test(params.sso_error) ? params.sso_error : null
  return <ProfileView providers={await ssoProviders()} ssoError={ssoError} linked={params.sso_linked === '1'} />
}
