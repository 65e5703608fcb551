window.YTD.direct_messages_group.part0 = [
  {
    "dmConversation": {
      "conversationId": "1901000000000000000",
      "messages": [
        {
          "messageCreate": {
            "reactions": [],
            "urls": [],
            "text": "count me in",
            "mediaUrls": [
              "https://video.twimg.com/dm_video/1901/vid/720x1280/x.mp4"
            ],
            "senderId": "1234567",
            "id": "1901000000000000011",
            "createdAt": "2025-03-15T17:05:00.000Z"
          }
        },
        {
          "conversationNameUpdate": {
            "initiatingUserId": "5550001",
            "name": "Berlin crew",
            "createdAt": "2025-03-15T17:01:00.000Z"
          }
        },
        {
          "messageCreate": {
            "reactions": [],
            "urls": [],
            "text": "Thursday drinks?",
            "mediaUrls": [],
            "senderId": "5550001",
            "id": "1901000000000000010",
            "createdAt": "2025-03-15T17:00:00.000Z"
          }
        },
        {
          "joinConversation": {
            "initiatingUserId": "5550001",
            "participantsSnapshot": [
              "1234567",
              "7654321",
              "5550001"
            ],
            "createdAt": "2025-03-15T16:59:00.000Z"
          }
        }
      ]
    }
  }
]