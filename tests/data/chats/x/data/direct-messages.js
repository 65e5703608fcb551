window.YTD.direct_messages.part0 = [
  {
    "dmConversation": {
      "conversationId": "1234567-7654321",
      "messages": [
        {
          "messageCreate": {
            "recipientId": "7654321",
            "reactions": [],
            "urls": [],
            "text": "see you there",
            "mediaUrls": [],
            "senderId": "1234567",
            "id": "1900900000000000004",
            "createdAt": "2025-03-16T07:00:00.000Z",
            "editHistory": []
          }
        },
        {
          "messageCreate": {
            "recipientId": "1234567",
            "reactions": [],
            "urls": [
              {
                "url": "https://t.co/Ab12Cd34",
                "expanded": "https://twitter.com/messages/media/1900800000000000003",
                "display": "pic.x.com/Ab12Cd34"
              }
            ],
            "text": "the view from here https://t.co/Ab12Cd34",
            "mediaUrls": [
              "https://ton.twitter.com/dm/1900800000000000003/1900800000000000099/AbCdEf12.jpg"
            ],
            "senderId": "7654321",
            "id": "1900800000000000003",
            "createdAt": "2025-03-15T08:44:00.000Z",
            "editHistory": []
          }
        },
        {
          "messageCreate": {
            "recipientId": "7654321",
            "reactions": [
              {
                "senderId": "7654321",
                "reactionKey": "like",
                "eventId": "1900750000000000000",
                "createdAt": "2025-03-15T08:43:30.000Z"
              }
            ],
            "urls": [
              {
                "url": "https://t.co/Zz99Yy88",
                "expanded": "https://cafe.example/menu",
                "display": "cafe.example/menu"
              }
            ],
            "text": "Yes! menu: https://t.co/Zz99Yy88 &amp; booked",
            "mediaUrls": [],
            "senderId": "1234567",
            "id": "1900700000000000002",
            "createdAt": "2025-03-15T08:43:00.000Z",
            "editHistory": []
          }
        },
        {
          "messageCreate": {
            "recipientId": "1234567",
            "reactions": [],
            "urls": [],
            "text": "Brunch tomorrow? 🥂",
            "mediaUrls": [],
            "senderId": "7654321",
            "id": "1900600000000000001",
            "createdAt": "2025-03-15T08:41:07.000Z",
            "editHistory": []
          }
        },
        {
          "messageCreate": {
            "recipientId": "1234567",
            "text": "a message without its time",
            "senderId": "7654321",
            "id": "1900500000000000000"
          }
        }
      ]
    }
  },
  {
    "dmConversation": {
      "conversationId": "1234567-9990001",
      "messages": [
        {
          "messageCreate": {
            "recipientId": "1234567",
            "reactions": [],
            "urls": [],
            "text": "hey, we met at the conference",
            "mediaUrls": [],
            "senderId": "9990001",
            "id": "1900650000000000000",
            "createdAt": "2025-03-15T12:00:00.000Z"
          }
        }
      ]
    }
  }
]