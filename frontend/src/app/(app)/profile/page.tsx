import type { Metadata } from 'next'
import { ProfileView } from '@/components/profile/ProfileView'
import { getMessages } from '@/i18n/server'

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getMessages()).profile.title }
}

export default function ProfilePage() {
  return <ProfileView />
}
