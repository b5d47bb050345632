export const PATH_HEADER = 'x-koiki-path'
