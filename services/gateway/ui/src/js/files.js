// Files handed in at the counter, as the API takes them: a media type the services accept
// and the bytes in standard base64 inside the JSON body (openapi.json: AttachedDocument,
// SuapFiledDocument).

/** The media types the services take, by file extension (a .p7m often has no type). */
export const MEDIA_TYPES = {
  pdf: 'application/pdf', jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png',
  p7m: 'application/pkcs7-mime', xml: 'application/xml',
};

/** What a file chooser offers. */
export const ACCEPT = '.pdf,.jpg,.jpeg,.png,.p7m,.xml,application/pdf,image/jpeg,image/png,application/pkcs7-mime,application/xml';

/** The media type the services expect for `file`, from its type or its extension. */
export function mediaType(file) {
  if (Object.values(MEDIA_TYPES).includes(file.type)) return file.type;
  const extension = file.name.split('.').pop()?.toLowerCase() ?? '';
  return MEDIA_TYPES[extension] ?? '';
}

/** Standard base64 of `buffer`, in chunks (String.fromCharCode takes a bounded argument list). */
export function base64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** 2048 -> "2 KB", 3 MiB -> "3.0 MB". */
export function formatSize(bytes) {
  return bytes < 1024 * 1024 ? `${Math.ceil(bytes / 1024)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
