# ruff: noqa: RUF001 (the app's words in other scripts hold letters that look like Latin ones)
"""The words WhatsApp writes into an export in the phone's language: media left out, attachments,
deleted and edited messages, calls, places, polls, the app's own notices, month names.

Each list says what the app writes, language by language (English, German, Spanish, French,
Portuguese, Italian, Dutch, Russian, Czech, Indonesian, Turkish, Hindi, Japanese, Thai,
Vietnamese, Arabic); where a translation is not known, the shapes the app keeps in every language
(``<...>`` on Android, a left-to-right mark before the app's words on iOS, ``IMG-...-WA0001``
file names) still tell a placeholder from a person's words. The patterns are matched against
text with the invisible marks taken out.
"""

from __future__ import annotations

import re

__all__ = ["ATTACHED", "CALLS", "CALL_KINDS", "DELETED", "EDITED", "FILE_ATTACHED", "LOCATION", "MEDIA_WORDS", "MONTHS",
           "NOTICE", "NOTICE_INSIDE", "NOTICE_NAME", "OMITTED", "POLL"]


def _any(*words: str) -> str:
    return "|".join(words)


# iOS, a medium left out of the export ("image omitted"), by kind; a caption may come before it
OMITTED = {
    "photo": _any("image omitted", "Bild weggelassen", "imagen omitida", "image absente", "imagem ocultada",
                  "imagem não revelada", "immagine omessa", "afbeelding weggelaten", "изображение отсутствует",
                  "obrázek vynechán", "gambar tidak disertakan", "görüntü dahil edilmedi", "छवि छोड़ी गई",
                  "画像は含まれていません", "画像を省略", "ไม่ได้แนบรูปภาพ", "đã bỏ qua hình ảnh", "تم استبعاد الصورة",
                  "зображення відсутнє", "ไม่มีรูปภาพ"),
    "video": _any("video omitted", "Video weggelassen", "video omitido", "vidéo absente", "vídeo ocultado",
                  "vídeo não revelado", "video omesso", "video weggelaten", "видео отсутствует", "video vynecháno",
                  "video tidak disertakan", "video dahil edilmedi", "वीडियो छोड़ा गया", "動画は含まれていません",
                  "動画を省略", "ไม่ได้แนบวิดีโอ", "đã bỏ qua video", "تم استبعاد الفيديو",
                  "ビデオは含まれていません", "відео відсутнє", "วิดีโอถูกลบ", "đã bỏ video",
                  "[<\u2039]Video message omitted>", "[<\u2039]Videonachricht weggelassen>"),
    "voice message": _any("audio omitted", "Audio weggelassen", "audio omitido", "audio omis", "áudio ocultado",
                          "áudio não revelado", "audio omesso", "audio weggelaten", "аудио отсутствует",
                          "zvuk vynechán", "audio tidak disertakan", "ses dahil edilmedi", "ऑडियो छोड़ा गया",
                          "音声は含まれていません", "音声を省略", "ไม่ได้แนบเสียง", "đã bỏ qua âm thanh",
                          "ficheiro de áudio não revelado", "аудиофайл отсутствует", "аудіо відсутнє",
                          "ไม่มีไฟล์เสียง", "bỏ qua tệp âm thanh",
                          "تم استبعاد الصوت"),
    "sticker": _any("sticker omitted", "Sticker weggelassen", "sticker omitido", "sticker omis", "autocollant omis",
                    "figurinha omitida", "sticker não revelado", "sticker non incluso", "sticker omesso",
                    "sticker weggelaten", "стикер отсутствует", "nálepka vynechána", "stiker tidak disertakan",
                    "çıkartma dahil edilmedi", "स्टिकर छोड़ा गया", "スタンプは含まれていません", "ไม่ได้แนบสติกเกอร์",
                    "đã bỏ qua nhãn dán", "تم استبعاد الملصق", "стикер не добавлен", "Наклейку не додано", "ไม่มีสติกเกอร์",
                    "đã bỏ sticker"),
    "GIF": _any("GIF omitted", "GIF weggelassen", "GIF omitido", "GIF retiré", "GIF não revelada", "GIF esclusa",
                "GIF omessa", "GIF weggelaten", "GIF отсутствует", "GIF vynechán", "GIF tidak disertakan",
                "GIF dahil edilmedi", "GIF छोड़ा गया", "GIFは含まれていません", "ไม่ได้แนบ GIF", "đã bỏ qua GIF",
                "تم استبعاد GIF", "GIF-анімацію пропущено", "ละเว้น GIF", "Đã bỏ qua ảnh GIF"),
    "file": _any("document omitted", "Dokument weggelassen", "documento omitido", "document omis", "documento omesso",
                 "documento não revelado", "document weggelaten", "документ отсутствует", "dokument vynechán",
                 "dokumen tidak disertakan", "belge dahil edilmedi", "दस्तावेज़ छोड़ा गया", "書類は含まれていません",
                 "ไม่ได้แนบเอกสาร", "đã bỏ qua tài liệu", "تم استبعاد المستند", "document manquant",
                 "ドキュメントは含まれていません", "документ пропущено", "ละเว้นเอกสาร"),
    "contact": _any("Contact card omitted", "Kontaktkarte ausgelassen", "tarjeta de contacto omitida",
                    "fiche contact manquante", "cartão do contato omitido", "contacto não revelado",
                    "scheda contatto omessa", "contactkaart weggelaten", "карточка контакта отсутствует",
                    "kontakt vynechán", "kartu kontak tidak disertakan", "kişi kartı dahil edilmedi",
                    "連絡先カードを省略", "Картка контакту відсутня", "บัตรรายชื่อที่ละเว้น", "Bỏ qua thẻ liên lạc"),
    "media": _any("[<\u2039]Media omitted>", "[<\u2039]Medien ausgeschlossen>", "[<\u2039]Medien weggelassen>",
                  "[<\u2039]Multimedia omitido>", "[<\u2039]Multimedia omitted>", "[<\u2039]Media Skipped>",
                  "[<\u2039]Médias omis>", "[<\u2039]Mídia oculta>", "[<\u2039]Mídia omitida>",
                  "[<\u2039]Arquivo de mídia oculto>", "[<\u2039]ficheiro não revelado>", "[<\u2039]Media omessi>",
                  "[<\u2039]Media weggelaten>", "[<\u2039]Без медиафайлов>", "[<\u2039]Média vynechány>",
                  "[<\u2039]Media tidak disertakan>", "[<\u2039]Medya dahil edilmedi>", "[<\u2039]मीडिया के बिना>",
                  "[<\u2039]メディアは含まれていません>", "[<\u2039]ไม่รวมสื่อ>", "[<\u2039]Bỏ qua Media>",
                  "[<\u2039]تم استبعاد الوسائط>"),
    "live location": _any("live location shared", "Live-Standort geteilt", "ubicación en tiempo real compartida",
                          "position en direct partagée", "localização em tempo real compartilhada"),
}
# a whole ``<...>`` on Android whose words say media, in a language not listed above
MEDIA_WORDS = re.compile(r"^[<\u2039][^<>\d]{0,40}(?:medi|média|mídia|multimedia|медиа|медіа|файл|medya|मीडिया|"
                         r"メディア|สื่อ|phương tiện|وسائط|미디어|多媒体|多媒體)[^<>\d]{0,40}>$", re.I)

# iOS: <attached: 00000012-PHOTO-2024-03-15-09-41-07.jpg>, in the phone's language (French opens with U+2039)
ATTACHED = re.compile(
    r"[<\u2039](?:attached|Anhang|angehängt|adjunto|pièce jointe|anexado|allegato|bijlage|вложение|příloha|"
    r"lampiran|ekli|添付|ไฟล์แนบ|đính kèm)\s?: (?P<file>[^>]+)>", re.I)
# Android: IMG-20240315-WA0001.jpg (file attached), a caption or a document's title on the lines after;
# the app's own file names are known in any language
FILE_ATTACHED = re.compile(
    r"^(?:(?P<wa>(?:IMG|VID|AUD|PTT|STK|DOC)-\d{8}-WA\d{4,}\.?\w{0,5}) \([^()\n]{2,40}\)|"
    r"(?P<file>\S[^\n]*?\.\w{1,5}) \((?:file attached|Datei angeh(?:ä|a\u0308)ngt|archivo adjunto|fichier joint|"
    r"arquivo anexado|file allegato|bestand bijgevoegd|файл добавлен|soubor byl přiložen|file terlampir|"
    r"dosya ekli|फ़ाइल संलग्न है|ファイル添付|แนบไฟล์|tệp đính kèm|ملف مرفق)\))", re.I)

DELETED = re.compile(
    r"^(?:This message was deleted|You deleted this message|Diese Nachricht wurde gelöscht|"
    r"Du hast diese Nachricht gelöscht|Se eliminó este mensaje|Eliminaste este mensaje|Este mensaje fue eliminado|"
    r"Ce message a été supprimé|Vous avez supprimé ce message|Esta mensagem foi apagada|Essa mensagem foi apagada|"
    r"Mensagem apagada|Apagou esta mensagem|Você apagou esta mensagem|Questo messaggio è stato eliminato|"
    r"Hai eliminato questo messaggio|Dit bericht is verwijderd|Je hebt dit bericht verwijderd|"
    r"Данное сообщение удалено|Это сообщение удалено|Сообщение удалено|Вы удалили данное сообщение|"
    r"Вы удалили это сообщение|Tato zpráva byla smazána|Tuto zprávu jste smazali|Zpráva byla smazána|"
    r"Pesan ini telah dihapus|Pesan ini dihapus|Anda menghapus pesan ini|Bu mesaj silindi|Bu mesajı sildiniz|"
    r"यह मैसेज डिलीट कर दिया गया|यह संदेश हटा दिया गया|आपने यह मैसेज डिलीट किया|आपने यह संदेश हटाया|"
    r"このメッセージは削除されました|メッセージを削除しました|ข้อความนี้ถูกลบแล้ว|คุณลบข้อความนี้แล้ว|"
    r"Tin nhắn này đã bị xóa|Tin nhắn này đã bị thu hồi|Bạn đã xóa tin nhắn này|Bạn đã xoá tin nhắn này|"
    r"Tin nhắn này đã bị xoá|"
    r"Ви видалили це повідомлення|Це повідомлення було видалено|このメッセージを削除しました|คุณได้ลบข้อความนี้|"
    r"تم حذف هذه الرسالة|"
    r"لقد حذفت هذه الرسالة)"
    # "This message was deleted by admin Anna.", "Mensagem apagada por um admin (você)": by whom, nothing else
    r"(?:\s(?:by|por|par|von|da|door|oleh|tarafından|от|администратором|správcem)\s[^\n]{1,60})?\.?$", re.I)
EDITED = re.compile(
    r"\s*<(?:This message was edited|Diese Nachricht wurde bearbeitet|Se editó este mensaje|Este mensaje fue editado|"
    r"Ce message a été modifié|Mensagem editada|Esta mensagem foi editada|Questo messaggio è stato modificato|"
    r"Dit bericht is bewerkt|Сообщение изменено|Это сообщение изменено|Zpráva byla upravena|Pesan ini telah diedit|"
    r"Bu mesaj düzenlendi|यह मैसेज एडिट किया गया|このメッセージは編集されました|ข้อความนี้ถูกแก้ไขแล้ว|"
    r"Tin nhắn này đã được chỉnh sửa|تم تعديل هذه الرسالة)\.?>\s*$", re.I)

# calls, by what they were; iOS may add ", Tap to call back" or how long the call took
_CALLS = (
    ("missed video call", _any("Missed (?:group )?video call", "Verpasster (?:Gruppen-)?Videoanruf",
                               "Videollamada perdida", "Appel vidéo manqué", "Chamada de vídeo perdida",
                               "Videochiamata persa", "Gemiste video-?oproep", "Пропущенный видеозвонок",
                               "Zmeškaný videohovor", "Panggilan video tak terjawab", "Cevapsız görüntülü arama",
                               "मिस्ड वीडियो कॉल", "วิดีโอคอลที่ไม่ได้รับ", "Cuộc gọi video nhỡ",
                               "مكالمة فيديو فائتة")),
    ("missed voice call", _any("Missed (?:group )?voice call", "Verpasster (?:Gruppen-)?Sprachanruf",
                               "Llamada (?:de voz )?perdida", "Appel (?:vocal )?manqué", "Chamada de voz perdida",
                               "Chiamata vocale persa", "Gemiste spraakoproep", "Пропущенный аудиозвонок",
                               "Zmeškaný hlasový hovor", "Panggilan suara tak terjawab", "Cevapsız sesli arama",
                               "मिस्ड वॉइस कॉल", "不在着信", "สายที่ไม่ได้รับ", "Cuộc gọi thoại nhỡ", "مكالمة صوتية فائتة")),
    ("video call", _any("(?:Group )?Video call", "Videoanruf", "Videollamada", "Appel vidéo", "Chamada de vídeo",
                        "Videochiamata", "Video-?oproep", "Видеозвонок", "Videohovor", "Panggilan video",
                        "Görüntülü arama", "वीडियो कॉल", "ビデオ通話", "วิดีโอคอล", "Cuộc gọi video", "مكالمة فيديو")),
    ("voice call", _any("(?:Group )?Voice call", "Sprachanruf", "Llamada de voz", "Appel vocal", "Chamada de voz",
                        "Chiamata vocale", "Spraakoproep", "Аудиозвонок", "Hlasový hovor", "Panggilan suara",
                        "Sesli arama", "वॉइस कॉल", "音声通話", "การโทรด้วยเสียง", "Cuộc gọi thoại", "مكالمة صوتية")),
)
CALL_KINDS = [kind for kind, _ in _CALLS]
CALLS = re.compile("^(?:" + "|".join(f"(?P<c{n}>{words})" for n, (_, words) in enumerate(_CALLS))
                   + r")(?:[,•]\s*(?P<detail>.+?))?$", re.I)

# a place: iOS "Location: https://maps.google.com/?q=...", Android "location: ...", a named place
# "Pimlico Gardens (London): https://foursquare.com/v/..."
LOCATION = re.compile(
    r"^(?:(?P<word>Location|Standort|Ubicación|Position|Localisation|Localização|Local|Posizione|Locatie|"
    r"Местоположение|Геопозиция|Розташування|Poloha|Lokasi|Konum|स्थान|位置情報|"
    r"ตำแหน่งที่ตั้ง|ตำแหน่ง|Vị trí|الموقع)|(?P<name>[^\n]{1,120}?))"
    r"\s?:\s?(?P<url>https?://(?:maps\.google\.[a-z.]+|maps\.apple\.com|foursquare\.com|goo\.gl/maps)\S*)$", re.I)

# a poll's first line ("POLL:"), then its question, then "OPTION: Pizza (2 votes)" lines
POLL = re.compile(r"^(?:POLL|UMFRAGE|ENCUESTA|SONDAGE|ENQUETE|SONDAGGIO|PEILING|ОПРОС|ANKETA|POLLING|ANKET|"
                  r"मतदान|アンケート|โพล|CUỘC THĂM DÒ Ý KIẾN|استطلاع)\s?:$", re.I)

# the app's notices, whoever they are put under (iOS: the group, or in a chat of two the other person)
NOTICE = re.compile(
    r"^(?:Messages and calls are (?:now )?end-to-end encrypted|Messages to this group are now secured|"
    r"Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt|Los mensajes y las llamadas están cifrados|"
    r"Les messages et les appels sont chiffrés|As mensagens e as chamadas são protegidas|"
    r"I messaggi e le chiamate sono crittografati|Berichten en oproepen zijn end-to-end versleuteld|"
    r"As mensagens e chamadas são|Повідомлення й дзвінки захищено|"
    r"Сообщения и звонки защищены|Zprávy a hovory jsou zabezpečeny|Pesan dan panggilan terenkripsi|"
    r"Mesajlar ve aramalar uçtan uca|संदेश और कॉल एंड-टू-एंड|メッセージと通話はエンドツーエンド|"
    r"ข้อความและการโทรได้รับการเข้ารหัส|Tin nhắn và cuộc gọi được mã hóa|الرسائل والمكالمات مشفرة|"
    r"Your security code with |Dein Sicherheitscode|Tu código de seguridad|Votre code de sécurité|"
    r"Seu código de segurança|Il tuo codice di sicurezza|Je beveiligingscode|Ваш код безопасности|"
    r"Váš bezpečnostní kód|Kode keamanan Anda|Güvenlik kodunuz|Deine Sicherheitsnummer|O seu código de segurança|"
    r"Код безпеки з контактом|Mã bảo mật của bạn với|รหัสความปลอดภัยของคุณกับ)", re.I)
# notices that do not start the same way each time: Japanese puts the contact's name first
NOTICE_INSIDE = ("とのセキュリティコードが変更されました",)
# a "name" that is the start of the app's line: "Anna changed the subject from “Plans: 2024”..."
NOTICE_NAME = re.compile(r" (?:changed the subject|changed the group description|created group|hat den Betreff|"
                         r"hat die Gruppe|cambió el asunto|creó el grupo|a modifié le sujet|a créé le groupe|"
                         r"mudou o assunto|criou o grupo|ha cambiato l'oggetto|ha creato il gruppo|"
                         r"heeft het onderwerp|heeft de groep|изменил\S* тему|создал\S* группу)", re.I)

# month names and their short forms, by their first letters (French "juin"/"juil." by four)
MONTHS = {
    **dict.fromkeys(("jan", "gen", "ene", "янв"), 1), **dict.fromkeys(("feb", "fév", "fev", "фев"), 2),
    **dict.fromkeys(("mar", "mär", "mrt", "мар"), 3), **dict.fromkeys(("apr", "avr", "abr", "апр"), 4),
    **dict.fromkeys(("may", "mai", "mei", "mag", "май", "мая"), 5), **dict.fromkeys(("jun", "juin", "giu", "июн"), 6),
    **dict.fromkeys(("jul", "juil", "lug", "июл"), 7), **dict.fromkeys(("aug", "aoû", "aou", "ago", "авг"), 8),
    **dict.fromkeys(("sep", "set", "сен"), 9), **dict.fromkeys(("oct", "okt", "out", "ott", "окт"), 10),
    **dict.fromkeys(("nov", "ноя"), 11), **dict.fromkeys(("dec", "dez", "déc", "dic", "дек"), 12),
}
