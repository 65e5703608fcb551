window.YTD.tweets.part0 = [
  {
    "tweet": {
      "id_str": "1900000000000000001",
      "full_text": "lunch with @annaschmidt_ and @benm!",
      "created_at": "Fri Mar 14 12:00:00 +0000 2025",
      "entities": {
        "user_mentions": [
          {
            "name": "Anna Schmidt",
            "screen_name": "annaschmidt_",
            "indices": [
              "11",
              "24"
            ],
            "id_str": "7654321",
            "id": "7654321"
          },
          {
            "name": "Ben Müller",
            "screen_name": "benm",
            "indices": [
              "29",
              "34"
            ],
            "id_str": "5550001",
            "id": "5550001"
          }
        ],
        "hashtags": [],
        "urls": []
      }
    }
  }
]