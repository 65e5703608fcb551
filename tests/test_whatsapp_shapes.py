"""WhatsApp exports in the shapes real phones write that were refused or lost in part (issue 27):
each case is a file of our own in one phone's shape, and every line of every conversation it
becomes is checked. Invisible characters are written as escapes: U+200E (left-to-right mark),
U+200F (right-to-left mark), U+202F (narrow no-break space), U+FEFF (byte order mark)."""
# ruff: noqa: RUF001 (Cyrillic file names and texts hold letters that look like Latin ones)

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from bridge.connector import Sink
from bridge.store import Store
from connectors.chats.whatsapp import WhatsAppConfig, WhatsAppConnector

LRM, RLM, NNBSP, BOM = "\u200e", "\u200f", "\u202f", "\ufeff"
EXPORTED = datetime(2025, 3, 20, 18, 0)  # when the file was written, for dates without a year

SHAPES = [
    pytest.param(
        "WhatsApp Chat - Anna's Phone.txt",
        "13/06/15 17:56:34: Anna's Phone: Call me when you are awake\n"
        "13/06/15 17:58:02: Alex: ok, give me ten minutes\n"
        "and bring coffee\n"
        "14/06/15 09:00:00: Anna's Phone: thanks for yesterday\n",
        ["WhatsApp chat with Anna's Phone, Sat 13 Jun 2015", "Anna's Phone (17:56): Call me when you are awake",
         "Alex (me, 17:58): ok, give me ten minutes", "and bring coffee",
         "WhatsApp chat with Anna's Phone, Sun 14 Jun 2015", "Anna's Phone (09:00): thanks for yesterday"],
        id="1-old-ios-colon"),
    pytest.param(
        "WhatsApp Chat with Ravi.txt",
        f"Dec 30, 8:11{NNBSP}PM - Ravi: see you next year\n"
        f"Dec 31, 11:58{NNBSP}PM - Alex: two minutes!\n"
        f"Jan 2, 9:05{NNBSP}AM - Ravi: back at work already\n",
        ["WhatsApp chat with Ravi, Mon 30 Dec 2024", "Ravi (20:11): see you next year",
         "WhatsApp chat with Ravi, Tue 31 Dec 2024", "Alex (me, 23:58): two minutes!",
         "WhatsApp chat with Ravi, Thu 02 Jan 2025", "Ravi (09:05): back at work already"],
        id="2-no-year-month-first-january-rollover"),
    pytest.param(
        "WhatsApp Chat with Nadia.txt",
        "18 Mar 12:14 - Nadia: lunch at the usual place?\n"
        "18 Mar 12:20 - Alex: yes\n",
        ["WhatsApp chat with Nadia, Tue 18 Mar 2025", "Nadia (12:14): lunch at the usual place?",
         "Alex (me, 12:20): yes"],
        id="2-no-year-day-first"),
    pytest.param(
        "WhatsApp Chat with Tom.txt",
        "19:07, 20 Sep 2013 - Tom: did the package arrive\n"
        "19:30, 20 Sep 2013 - Alex: not yet\n",
        ["WhatsApp chat with Tom, Fri 20 Sep 2013", "Tom (19:07): did the package arrive",
         "Alex (me, 19:30): not yet"],
        id="2-time-first-month-name"),
    pytest.param(
        "WhatsApp Chat with Farid.txt",
        "2025-03-15, 9:15 in the morning - Farid: landed in Montreal\n"
        "2025-03-15, 3:40 in the afternoon - Alex: welcome home\n"
        "2025-03-15, 10:05 at night - Farid: so tired\n"
        "2025-03-16, 9:41 p.m. - Alex: sleep well\n",
        ["WhatsApp chat with Farid, Sat 15 Mar 2025", "Farid (09:15): landed in Montreal",
         "Alex (me, 15:40): welcome home", "Farid (22:05): so tired",
         "WhatsApp chat with Farid, Sun 16 Mar 2025", "Alex (me, 21:41): sleep well"],
        id="2-canadian-parts-of-the-day"),
    pytest.param(
        "WhatsApp Chat - Layla.txt",
        f"[{RLM}27{RLM}/3{RLM}/2022\u060c 21:41:35] Layla: {LRM}الرسائل والمكالمات مشفرة تمامًا\n"
        f"[{RLM}27{RLM}/3{RLM}/2022\u060c 21:41:40] Layla: مرحبا\n"
        f"[\u0662\u0667{RLM}/\u0663{RLM}/\u0662\u0660\u0662\u0662\u060c \u0669:\u0664\u0662:\u0660\u0660 \u0645] "
        "Alex: أهلا\n"
        f"[\u0662\u0668{RLM}/\u0663{RLM}/\u0662\u0660\u0662\u0662\u060c \u0668:\u0660\u0665:\u0660\u0660 \u0635] "
        "Layla: صباح الخير\n",
        ["WhatsApp chat with Layla, Sun 27 Mar 2022", "Layla (21:41): مرحبا", "Alex (me, 21:42): أهلا",
         "WhatsApp chat with Layla, Mon 28 Mar 2022", "Layla (08:05): صباح الخير"],
        id="3-arabic-ios-rlm-comma-digits"),
    pytest.param(
        "WhatsApp Chat - Minh.txt",
        "[21:41:35, 3/27/22] Minh: Chào bạn\n"
        "[21:42:10, 3/27/22] Alex: Chào Minh\n",
        ["WhatsApp chat with Minh, Sun 27 Mar 2022", "Minh (21:41): Chào bạn", "Alex (me, 21:42): Chào Minh"],
        id="4-vietnamese-time-first"),
    pytest.param(
        "WhatsApp Chat - Somchai.txt",
        "[3/27/2565 BE, 21:41:35] Somchai: สวัสดีครับ\n"
        "[3/28/2565 BE, 08:00:00] Alex: morning\n",
        ["WhatsApp chat with Somchai, Sun 27 Mar 2022", "Somchai (21:41): สวัสดีครับ",
         "WhatsApp chat with Somchai, Mon 28 Mar 2022", "Alex (me, 08:00): morning"],
        id="5-buddhist-era"),
    pytest.param(
        "WhatsApp Chat with Somchai.txt",
        "27/3/2565 21:41 - Somchai: ไปกินข้าวไหม\n",
        ["WhatsApp chat with Somchai, Sun 27 Mar 2022", "Somchai (21:41): ไปกินข้าวไหม"],
        id="5-buddhist-year-without-be"),
    pytest.param(
        "WhatsApp Chat - Yuki.txt",
        "[3/27/R4, 21:41:35] Yuki: こんにちは\n"
        "[1/7/R5, 10:00:00] Alex: あけましておめでとう\n",
        ["WhatsApp chat with Yuki, Sun 27 Mar 2022", "Yuki (21:41): こんにちは",
         "WhatsApp chat with Yuki, Sat 07 Jan 2023", "Alex (me, 10:00): あけましておめでとう"],
        id="5-japanese-era"),
    pytest.param(
        "Чат WhatsApp с Дмитрий.txt",
        f"27.03.2022, 21:41 - Дмитрий: {LRM}IMG-20220327-WA0002.jpg (файл добавлен)\n"
        "Вид из окна\n"
        f"27.03.2022, 21:42 - Alex: {LRM}No idea, lets try it out!\n"
        f"27.03.2022, 21:43 - Дмитрий: {LRM}Отчёт.pdf (файл добавлен)\n",
        ["WhatsApp chat with Дмитрий, Sun 27 Mar 2022", "Дмитрий (21:41): [photo]", "Вид из окна",
         "Alex (me, 21:42): No idea, lets try it out!", "Дмитрий (21:43): [file: Отчёт.pdf]"],
        id="7-android-mark-before-attachments-and-words"),
    pytest.param(
        "WhatsApp Chat with Sam.txt",
        f"3/15/25, 11:50{NNBSP}PM - Sam: still up?\n"
        "3/15/25, 23:59 PM - Sam: one more thing\n"
        "about tomorrow\n"
        "3/16/25, 00:04 AM - Alex: go to sleep\n",
        ["WhatsApp chat with Sam, Sat 15 Mar 2025", "Sam (23:50): still up?", "Sam (23:59): one more thing",
         "about tomorrow", "WhatsApp chat with Sam, Sun 16 Mar 2025", "Alex (me, 00:04): go to sleep"],
        id="8-contradicting-am-pm"),
    pytest.param(
        "WhatsApp Chat - Anna.txt",
        "[15/03/2025, 09:41:07] Anna: morning\n"
        f"[{BOM}15/03/2025, 09:42:00] Anna: this line came after a byte order mark\n"
        "and went on\n",
        ["WhatsApp chat with Anna, Sat 15 Mar 2025", "Anna (09:41): morning",
         "Anna (09:42): this line came after a byte order mark", "and went on"],
        id="8-bom-inside-bracket"),
    pytest.param(
        "WhatsApp Chat - Family.txt",
        f"[15/03/2025, 10:00:00] Anna: {LRM}POLL:\n"
        f"{LRM}Where do we eat on Sunday?\n"
        f"{LRM}OPTION: Pizza (2 votes)\n"
        f"{LRM}OPTION: Sushi (1 vote)\n"
        "[15/03/2025, 10:05:00] Ben: pizza obviously\n",
        ["WhatsApp group “Family”, Sat 15 Mar 2025",
         "Anna (10:00): [poll: Where do we eat on Sunday? — Pizza (2 votes); Sushi (1 vote)]",
         "Ben (10:05): pizza obviously"],
        id="9-poll-ios"),
    pytest.param(
        "WhatsApp Chat - Familie.txt",
        f"[15-03-2025 10:00:00] Sanne: {LRM}PEILING:\n"
        f"{LRM}Wie neemt de taart mee?\n"
        f"{LRM}OPTIE: Ik (1 stem)\n"
        f"{LRM}OPTIE: Jij (0 stemmen)\n"
        "[15-03-2025 10:01:00] Joris: ik wel\n",
        ["WhatsApp group “Familie”, Sat 15 Mar 2025",
         "Sanne (10:00): [poll: Wie neemt de taart mee? — Ik (1 stem); Jij (0 stemmen)]", "Joris (10:01): ik wel"],
        id="9-poll-ios-dutch"),
    pytest.param(
        "WhatsApp Chat with Club.txt",
        "15/03/2025, 10:00 - Anna: POLL:\n"
        "Training on Friday?\n"
        "OPTION: Yes (3 votes)\n"
        "OPTION: No (0 votes)\n",
        ["WhatsApp group “Club”, Sat 15 Mar 2025",
         "Anna (10:00): [poll: Training on Friday? — Yes (3 votes); No (0 votes)]"],
        id="9-poll-android"),
    pytest.param(
        "WhatsApp Chat - Dmitry.txt",
        f"[27/03/2022, 21:50:09] Dmitry: Some notes.txt {LRM}document omitted\n"
        f"[27/03/2022, 21:50:25] Dmitry: Resume.pdf • {LRM}2 pages {LRM}document omitted\n"
        f"[27/03/2022, 21:50:43] Dmitry: {LRM}Template.docx {LRM}document omitted\n"
        f"[27/03/2022, 21:51:00] Dmitry: Plan • 3 pages {LRM}<attached: 00000031-Plan.pdf>\n"
        f"[27/03/2022, 21:52:00] Dmitry: At the lake {LRM}image omitted\n"
        f"[27/03/2022, 21:53:00] Dmitry: Some notes.txt {LRM}<attached: 00000046-Some notes.txt>\n",
        ["WhatsApp chat with Dmitry, Sun 27 Mar 2022", "Dmitry (21:50): [file: Some notes.txt]",
         "Dmitry (21:50): [file: Resume.pdf]", "Dmitry (21:50): [file: Template.docx]",
         "Dmitry (21:51): [file: Plan.pdf]", "Dmitry (21:52): At the lake [photo]",
         "Dmitry (21:53): [file: Some notes.txt]"],
        id="11-ios-documents-and-captions"),
    pytest.param(
        "WhatsApp Chat - Oma.txt",
        f"[15.03.25, 10:00:00] Oma: Schöner Tag am See {LRM}Bild weggelassen\n"
        f"[15.03.25, 10:01:00] Oma: {LRM}Rezept.pdf • {LRM}2 Seiten {LRM}Dokument weggelassen\n",
        ["WhatsApp chat with Oma, Sat 15 Mar 2025", "Oma (10:00): Schöner Tag am See [photo]",
         "Oma (10:01): [file: Rezept.pdf]"],
        id="11-ios-german-caption-and-document"),
    pytest.param(
        "WhatsApp Chat with Anna.txt",
        "15/03/2025, 10:00 - Anna: <Media omitted>\n"
        "Sunset at the lake\n"
        "15/03/2025, 10:01 - Anna: <Multimedia omitted>\n"
        "15/03/2025, 10:02 - Anna: <Media Skipped>\n"
        "15/03/2025, 10:03 - Alex: wow\n"
        "15/03/2025, 10:04 - Anna: Helsinki Cathedral\n"
        "Helsinki\n"
        "location: https://maps.google.com/?q=60.170,24.952\n",
        ["WhatsApp chat with Anna, Sat 15 Mar 2025", "Anna (10:00): [media] Sunset at the lake",
         "Anna (10:01): [media]", "Anna (10:02): [media]", "Alex (me, 10:03): wow",
         "Anna (10:04): Helsinki Cathedral", "Helsinki", "[location: https://maps.google.com/?q=60.170,24.952]"],
        id="12-android-media-omitted-caption-variants"),
    pytest.param(
        "Чат WhatsApp с Ольга.txt",
        "27.03.2022, 21:41 - Ольга: <Без медиафайлов>\n"
        "27.03.2022, 21:42 - Ольга: Данное сообщение удалено\n"
        "27.03.2022, 21:43 - Alex: Красиво\n",
        ["WhatsApp chat with Ольга, Sun 27 Mar 2022", "Ольга (21:41): [media]", "Alex (me, 21:43): Красиво"],
        id="12-13-android-russian"),
    pytest.param(
        "Chat WhatsApp s uživatelem Petr.txt",
        "23.03.22 13:31 - Petr: <Média vynechány>\n"
        "23.03.22 13:32 - Petr: Tato zpráva byla smazána\n"
        "23.03.22 13:33 - Petr: poloha: https://maps.google.com/?q=50.08,14.42\n"
        "23.03.22 13:34 - Alex: díky\n",
        ["WhatsApp chat with Petr, Wed 23 Mar 2022", "Petr (13:31): [media]",
         "Petr (13:33): [location: https://maps.google.com/?q=50.08,14.42]", "Alex (me, 13:34): díky"],
        id="12-13-android-czech"),
    pytest.param(
        "WhatsApp Chat - Sanne.txt",
        f"[15-03-2025 10:00:00] Sanne: {LRM}afbeelding weggelaten\n"
        f"[15-03-2025 10:01:00] Sanne: {LRM}Dit bericht is verwijderd.\n"
        "[15-03-2025 10:02:00] Alex: Dit bericht is verwijderd\n"
        "[15-03-2025 10:03:00] Alex: mooi\n",
        ["WhatsApp chat with Sanne, Sat 15 Mar 2025", "Sanne (10:00): [photo]", "Alex (me, 10:03): mooi"],
        id="13-ios-dutch"),
    pytest.param(
        "WhatsApp Chat - Claire.txt",
        f"[15/03/2025 10:00:00] Claire: {LRM}Localisation : https://maps.google.com/?q=48.8584,2.2945\n"
        f"[15/03/2025 10:01:00] Claire: {LRM}GIF retiré\n"
        "[15/03/2025 10:02:00] Alex: j'arrive\n",
        ["WhatsApp chat with Claire, Sat 15 Mar 2025",
         "Claire (10:00): [location: https://maps.google.com/?q=48.8584,2.2945]", "Claire (10:01): [GIF]",
         "Alex (me, 10:02): j'arrive"],
        id="13-ios-french"),
    pytest.param(
        "WhatsApp Chat - Lucía.txt",
        f"[15/3/25, 10:00:00] Lucía: {LRM}Llamada perdida\n"
        f"[15/3/25, 10:01:00] Lucía: {LRM}Videollamada perdida, {LRM}Toca para devolver la llamada\n"
        "[15/3/25, 10:02:00] Alex: te llamo luego\n",
        ["WhatsApp chat with Lucía, Sat 15 Mar 2025", "Lucía (10:00): [missed voice call]",
         "Lucía (10:01): [missed video call]", "Alex (me, 10:02): te llamo luego"],
        id="13-ios-spanish-calls"),
    pytest.param(
        "WhatsApp Chat - Turma.txt",
        f"[15/03/2025 10:00:00] Ana: {LRM}Mensagem apagada por um admin (você)\n"
        "[15/03/2025 10:01:00] Bia: bom dia\n"
        "[15/03/2025 10:02:00] Bia: Mensagem apagada sem querer, desculpa\n",  # a person's words
        ["WhatsApp group “Turma”, Sat 15 Mar 2025", "Bia (10:01): bom dia",
         "Bia (10:02): Mensagem apagada sem querer, desculpa"],
        id="13-ios-portuguese-deleted-by-admin"),
    pytest.param(
        "WhatsApp Chat - Mehmet.txt",
        "[08.10.2025 14:05:30] Mehmet: fatura geldi mi?\n"
        f"[08.10.2025 14:06:01] Mehmet: {LRM}<ekli: 00000012-PHOTO-2025-10-08-14-06-01.jpg>\n",
        ["WhatsApp chat with Mehmet, Wed 08 Oct 2025", "Mehmet (14:05): fatura geldi mi?", "Mehmet (14:06): [photo]"],
        id="13-ios-turkish-attached"),
    pytest.param(
        "WhatsApp Chat with Grup.txt",
        "15.03.2025 10.00 - Ayşe: Bu mesaj silindi\n"
        "15.03.2025 10.01 - Ayşe: <Medya dahil edilmedi>\n"
        "15.03.2025 10.02 - Budi: Pesan ini telah dihapus\n"
        "15.03.2025 10.03 - Budi: <Media tidak disertakan>\n"
        "15.03.2025 10.04 - Asha: यह मैसेज डिलीट कर दिया गया\n"
        "15.03.2025 10.05 - Yuki: このメッセージは削除されました\n"
        "15.03.2025 10.06 - Nok: ข้อความนี้ถูกลบแล้ว\n"
        "15.03.2025 10.07 - Minh: Tin nhắn này đã bị xóa\n"
        "15.03.2025 10.08 - Alex: selam\n",
        ["WhatsApp group “Grup”, Sat 15 Mar 2025", "Ayşe (10:01): [media]", "Budi (10:03): [media]",
         "Alex (me, 10:08): selam"],
        id="13-android-turkish-indonesian-hindi-japanese-thai-vietnamese"),
]


def import_file(tmp_path: Path, name: str, content: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Every line of every conversation the export becomes, and what was skipped."""
    folder = tmp_path / "exports"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(content, encoding="utf-8", newline="")
    os.utime(path, (EXPORTED.timestamp(), EXPORTED.timestamp()))
    store = Store(":memory:")
    config = WhatsAppConfig(type="whatsapp", path=folder, me=["Alex"], timezone="Europe/Berlin")
    WhatsAppConnector("chats", config).poll(Sink(store, "chats", config, lambda: None))
    lines = [line for r in store.rows("SELECT body FROM outbox ORDER BY id")
             for line in json.loads(r["body"])["text"].split("\n")]
    return lines, [(r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")]


@pytest.mark.parametrize(("name", "content", "expected"), SHAPES)
def test_each_phones_shape_reads_whole(tmp_path, name, content, expected):
    lines, skipped = import_file(tmp_path, name, content)
    assert lines == expected
    assert skipped == []


def test_a_file_that_still_cannot_be_read_says_what_was_seen_and_what_to_try(tmp_path):
    content = "Tuesday 15 March — Anna: hi\nTuesday 15 March — Alex: hello\n"
    lines, skipped = import_file(tmp_path, "WhatsApp Chat with Anna.txt", content)
    assert lines == []
    assert skipped == [("WhatsApp Chat with Anna.txt",
                        "no line starts with a date in a form I know; first line: 'Tuesday 15 March — Anna: hi'; "
                        "set date_order or tell us the phone's language")]


def test_an_export_of_only_the_apps_own_lines_is_read_and_sends_nothing(tmp_path):
    """A linked device's export: two notices and no message. Nothing to send, nothing wrong."""
    content = (f"9/19/25, 9:52{NNBSP}AM - Messages and calls are end-to-end encrypted. Only people in this chat "
               "can read, listen to, or share them. Learn more.\n"
               f"9/25/25, 11:44{NNBSP}PM - Messages and calls are now end-to-end encrypted.\n")
    assert import_file(tmp_path, "WhatsApp Chat with Anna.txt", content) == ([], [])


def test_the_year_of_dates_written_without_one_comes_from_dates_with_one(tmp_path):
    content = ("Dec 31, 2023, 11:00 PM - Ravi: last of the year\n"
               "Jan 1, 9:00 AM - Ravi: first of the next\n")  # a phone that drops the year of this year
    lines, _ = import_file(tmp_path, "WhatsApp Chat with Ravi.txt", content)
    assert [line for line in lines if line.startswith("WhatsApp")] == [
        "WhatsApp chat with Ravi, Sun 31 Dec 2023", "WhatsApp chat with Ravi, Mon 01 Jan 2024"]


# iOS exports "without media" in each language, as the app words them: (how a line starts, the
# encryption notice, photo, video, audio, contact card, sticker, document, "2 pages", GIF, "you
# deleted", "was deleted", a place's word, the security code notice)
IOS_WORDS = {
    "en": ("[3/27/22, {}]", "Messages and calls are end-to-end encrypted. No one outside of this chat can read them.",
           "image omitted", "video omitted", "audio omitted", "Contact card omitted", "sticker omitted",
           "document omitted", "2 pages", "GIF omitted", "You deleted this message.", "This message was deleted.",
           "Location", "Your security code with Mia changed. Tap to learn more."),
    "de": ("[27.03.22, {}]", "Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt.", "Bild weggelassen",
           "Video weggelassen", "Audio weggelassen", "Kontaktkarte ausgelassen", "Sticker weggelassen",
           "Dokument weggelassen", "2 Seiten", "GIF weggelassen", "Du hast diese Nachricht gelöscht.",
           "Diese Nachricht wurde gelöscht.", "Standort", "Deine Sicherheitsnummer für Mia hat sich geändert."),
    "fr": ("[27/03/2022 {}]", "Les messages et les appels sont chiffrés de bout en bout.", "image absente",
           "vidéo absente", "audio omis", "Fiche contact manquante", "sticker omis", "document manquant", "2 pages",
           "GIF retiré", "Vous avez supprimé ce message.", "Ce message a été supprimé.", "Localisation",
           "Votre code de sécurité avec Mia a changé."),
    "pt-PT": ("[27/03/22 {}]", "As mensagens e chamadas são encriptadas ponto a ponto.", "imagem não revelada",
              "vídeo não revelado", "ficheiro de áudio não revelado", "Contacto não revelado", "sticker não revelado",
              "documento não revelado", "2 páginas", "GIF não revelada", "Apagou esta mensagem.",
              "Esta mensagem foi apagada.", "Localização", "O seu código de segurança partilhado com Mia mudou."),
    "ru": ("[27.03.2022, {}]", "Сообщения и звонки защищены сквозным шифрованием.", "изображение отсутствует",
           "видео отсутствует", "аудиофайл отсутствует", "Карточка контакта отсутствует", "стикер не добавлен",
           "документ отсутствует", "2 страницы", "GIF отсутствует", "Вы удалили данное сообщение.",
           "Данное сообщение удалено.", "Местоположение", "Ваш код безопасности с контактом Mia изменился."),
    "uk": ("[27.03.22, {}]", "Повідомлення й дзвінки захищено наскрізним шифруванням.", "зображення відсутнє",
           "відео відсутнє", "аудіо відсутнє", "Картка контакту відсутня", "Наклейку не додано",
           "документ пропущено", "2 сторінки", "GIF-анімацію пропущено", "Ви видалили це повідомлення.",
           "Це повідомлення було видалено.", "Розташування", "Код безпеки з контактом Mia змінився."),
    "ja": ("[2022/03/27 {}]", "メッセージと通話はエンドツーエンド暗号化されています。", "画像は含まれていません",
           "ビデオは含まれていません", "音声は含まれていません", "連絡先カードを省略", "スタンプは含まれていません",
           "ドキュメントは含まれていません", "ページ数: 2", "GIFは含まれていません", "このメッセージを削除しました。",
           "このメッセージは削除されました。", "位置情報", "Miaとのセキュリティコードが変更されました。"),
    "th": ("[27/3/2565 {}]", "ข้อความและการโทรได้รับการเข้ารหัสจากต้นทางถึงปลายทาง", "ไม่มีรูปภาพ", "วิดีโอถูกลบ",
           "ไม่มีไฟล์เสียง", "บัตรรายชื่อที่ละเว้น", "ไม่มีสติกเกอร์", "ละเว้นเอกสาร", "2 หน้า", "ละเว้น GIF",
           "คุณได้ลบข้อความนี้", "ข้อความนี้ถูกลบแล้ว", "ตำแหน่งที่ตั้ง", "รหัสความปลอดภัยของคุณกับ Mia มีการเปลี่ยนแปลง"),
    "vi": ("[{}, 27/3/22]", "Tin nhắn và cuộc gọi được mã hóa đầu cuối.", "đã bỏ qua hình ảnh", "đã bỏ video",
           "bỏ qua tệp âm thanh", "Bỏ qua thẻ liên lạc", "đã bỏ sticker", "đã bỏ qua tài liệu", "2 trang",
           "Đã bỏ qua ảnh GIF", "Bạn đã xoá tin nhắn này.", "Tin nhắn này đã bị xóa.", "Vị trí",
           "Mã bảo mật của bạn với Mia đã thay đổi."),
}


def ios_chat(words: tuple[str, ...]) -> str:
    head, notice, photo, video, audio, contact, sticker, document, pages, gif, you_deleted, deleted, place, code = words
    said = [("Mia", f"{LRM}{notice}"), ("Mia", "Hello from the lake"), ("Mia", f"{LRM}{photo}"),
            ("Mia", f"{LRM}{video}"), ("Alex", f"{LRM}{audio}"), ("Mia", f"{LRM}{contact}"), ("Mia", f"{LRM}{sticker}"),
            ("Mia", f"Plan.pdf • {LRM}{pages} {LRM}{document}"), ("Mia", f"{LRM}{gif}"),
            ("Alex", f"{LRM}{you_deleted}"),
            ("Mia", f"{LRM}{deleted}"), ("Mia", f"{LRM}{place}: https://maps.google.com/?q=52.52,13.40"),
            ("Mia", "Café Luna (Berlin, Germany): https://foursquare.com/v/4b0588f3f964a520"), ("Mia", f"{LRM}{code}")]
    return "".join(f"{head.format(f'21:{n + 40}:00')} {who}: {text}\n" for n, (who, text) in enumerate(said))


@pytest.mark.parametrize("language", list(IOS_WORDS))
def test_ios_placeholders_deletions_places_and_notices_in_each_language(tmp_path, language):
    lines, skipped = import_file(tmp_path, "WhatsApp Chat - Mia.txt", ios_chat(IOS_WORDS[language]))
    assert lines == ["WhatsApp chat with Mia, Sun 27 Mar 2022", "Mia (21:41): Hello from the lake",
                     "Mia (21:42): [photo]", "Mia (21:43): [video]", "Alex (me, 21:44): [voice message]",
                     "Mia (21:45): [contact]",
                     "Mia (21:46): [sticker]", "Mia (21:47): [file: Plan.pdf]", "Mia (21:48): [GIF]",
                     "Mia (21:51): [location: https://maps.google.com/?q=52.52,13.40]",
                     "Mia (21:52): [location: Café Luna (Berlin, Germany), https://foursquare.com/v/4b0588f3f964a520]"]
    assert skipped == []
